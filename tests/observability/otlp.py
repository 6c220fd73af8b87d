"""A tiny OTLP/HTTP trace receiver: the end-to-end trace test's, and a sink for benchmarks.

`python -m tests.observability.otlp PORT` runs it until interrupted and prints how many
spans it received, so `bench/jobs.py` can be measured with an exporter configured.
"""

from __future__ import annotations

import gzip
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP span kinds


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver on a free loopback port: keeps every span it is sent."""

    def __init__(self, port: int = 0):
        self.spans: list[dict] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        """The base URL exporters are pointed at (they POST to /v1/traces)."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def of_trace(self, trace_id: str) -> list[dict]:
        """The spans received so far of trace `trace_id`."""
        with self.lock:
            return [span for span in self.spans if span["trace_id"] == trace_id]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            for resource_spans in request.resource_spans:
                service = next(a.value.string_value for a in resource_spans.resource.attributes
                               if a.key == "service.name")
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        self.server.spans.append({
                            "service": service, "name": span.name, "kind": span.kind,
                            "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "attributes": {a.key: _value(a.value) for a in span.attributes}})
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *_args):
        pass


def _value(any_value):
    return getattr(any_value, any_value.WhichOneof("value")) if any_value.WhichOneof("value") \
        else None




if __name__ == "__main__":
    receiver = Receiver(int(sys.argv[1]))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print(f"{len(receiver.spans)} spans received")
