"""End to end: a `traceparent` sent with POST /jobs continues into the task and its SQL.

gunicorn and the worker export OTLP over HTTP to a receiver this test runs.
"""

from __future__ import annotations

import gzip
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.harness import wait_until
from tests.observability.conftest import log_lines, start_stack

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP span kinds


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver on a free loopback port: keeps every span it is sent."""

    def __init__(self):
        self.spans: list[dict] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
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


@pytest.fixture(scope="module")
def receiver():
    """The OTLP receiver, for this module."""
    server = Receiver()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def traced(settings, app_factory, redis_url, tmp_path_factory, receiver):
    """A stack that exports its spans to `receiver`."""
    running = start_stack(settings, app_factory, redis_url, tmp_path_factory.mktemp("traced"),
                          5, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                          OTEL_BSP_SCHEDULE_DELAY="100")
    yield running
    running.stop()
    app_factory()


def test_one_trace_holds_http_publish_task_and_sql_spans(traced, receiver, app_factory):
    tenant, trace_id = f"t-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    caller_span = "00f067aa0ba902b7"
    response = traced.call("POST", "/jobs", tenant, headers={
        "traceparent": f"00-{trace_id}-{caller_span}-01"},
        json={"job_type": "echo", "project": "proj", "payload": {"message": "traced"}})
    assert response.status_code == 202
    job_id = response.json()["id"]

    def complete():
        spans = receiver.of_trace(trace_id)
        names = {span["name"] for span in spans}
        kinds = {(span["service"], span["kind"]) for span in spans}
        worker_sql = [s for s in spans if s["service"] == "taskplane-worker"
                      and any(k.startswith("db.") for k in s["attributes"])]
        return ("job.execute" in names and worker_sql and ("taskplane-web", SERVER) in kinds
                and spans)

    spans = wait_until(complete, 60, interval=0.2, message="the trace's spans")
    by_id = {span["span_id"]: span for span in spans}
    http = next(s for s in spans if s["kind"] == SERVER and s["service"] == "taskplane-web")
    assert http["parent"] == caller_span  # continues the caller's trace
    assert http["attributes"]["taskplane.tenant"] == tenant
    assert http["attributes"]["taskplane.job_id"] == job_id
    publish = next(s for s in spans if s["kind"] == PRODUCER)
    assert publish["name"] == "apply_async/taskplane.job.echo"
    assert publish["service"] == "taskplane-web"
    task = next(s for s in spans if s["kind"] == CONSUMER)
    assert task["name"] == "run/taskplane.job.echo" and task["service"] == "taskplane-worker"
    assert task["parent"] == publish["span_id"]
    execute = next(s for s in spans if s["name"] == "job.execute")
    assert execute["parent"] == task["span_id"]
    assert {k: execute["attributes"].get(f"taskplane.{k}") for k in
            ("job_id", "job_type", "tenant", "project")} == {
        "job_id": job_id, "job_type": "echo", "tenant": tenant, "project": "proj"}

    def ancestors(span):
        while span["parent"] in by_id:
            span = by_id[span["parent"]]
            yield span["span_id"]

    sql = [s for s in spans if s["service"] == "taskplane-worker"
           and any(k.startswith("db.") for k in s["attributes"])]
    assert sql and all(execute["span_id"] in set(ancestors(s)) or s["parent"] == task["span_id"]
                       for s in sql)
    assert any(execute["span_id"] in set(ancestors(s)) for s in sql)

    request_line = next(line for line in log_lines(traced.web.log_path)
                        if line.get("logger") == "taskplane.http" and line.get("tenant") == tenant
                        and line.get("route") == "/jobs")
    assert request_line["trace_id"] == trace_id
    worker_lines = [line for line in log_lines(traced.worker.log_path)
                    if line.get("job_id") == job_id and line.get("logger") == "celery.app.trace"]
    assert worker_lines and all((line["trace_id"], line["attempt"]) == (trace_id, 1)
                                for line in worker_lines)

    events = traced.call("GET", f"/events?job_id={job_id}", tenant).json()["items"]
    assert {e["type"] for e in events} >= {"service_job_enqueued", "service_job_completed"}
    assert {e["trace_id"] for e in events} == {trace_id}
    app = app_factory()
    with app.app_context():
        from app.extensions import db
        from app.models import Job

        assert db.session.get(Job, job_id).trace_id == trace_id
