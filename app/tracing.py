"""OpenTelemetry: Flask, Celery and SQLAlchemy instrumented when an exporter is configured.

Exporters come from the standard variables: `OTEL_TRACES_EXPORTER` (`otlp`, `console`;
`none` turns tracing off) and `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` (OTLP over HTTP).
With none of them set nothing is instrumented and the hot path pays nothing; a
`traceparent` sent by a client still names the trace the job row and its events carry.

The tracer provider (and its exporting thread) is set up after fork, in each process
that makes spans: gunicorn's `post_fork`, Celery's `worker_process_init`; `shutdown()`
flushes what is left when the process ends.
"""

from __future__ import annotations

import contextlib
import os

from opentelemetry import trace
from opentelemetry.propagators.textmap import DefaultGetter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

EXPORTERS = ("otlp", "otlp_proto_http", "console")
_state = {"provider": None, "pid": None, "deferred": False}
_W3C = TraceContextTextMapPropagator()


def _exporter_names(environ=None) -> list[str]:
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return []
    names = [n.strip() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if "none" in names:
        return []
    if not names and (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                      or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = ["otlp"]
    unknown = sorted(set(names) - set(EXPORTERS))
    if unknown:
        raise RuntimeError(f"OTEL_TRACES_EXPORTER: unsupported {unknown}; use {list(EXPORTERS)}")
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    if protocol != "http/protobuf" and set(names) & {"otlp", "otlp_proto_http"}:
        raise RuntimeError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: Taskplane exports "
                           "OTLP over HTTP (http/protobuf)")
    return names


def enabled(environ=None) -> bool:
    """Whether the `OTEL_*` variables configure a trace exporter."""
    return bool(_exporter_names(environ))


def _exporter(name: str):
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*


def configure(service_name: str) -> bool:
    """Set up this process's tracer provider and Celery instrumentation (once per process)."""
    names = _exporter_names()
    if not names or _state["pid"] == os.getpid():
        return bool(names)
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    _state.update(provider=provider, pid=os.getpid())
    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)
    return True


def defer_to_fork() -> None:
    """This process forks its span makers later (Celery's main process): set up none here."""
    _state["deferred"] = True


def instrument_app(app, engine) -> None:
    """Instrument the Flask app and the SQLAlchemy engine, when tracing is on.

    A web process sets up its provider here too, unless gunicorn's `post_fork` already
    did; a Celery main process (`defer_to_fork`) leaves that to each pool process.
    """
    if not enabled():
        return
    if not _state["deferred"]:
        configure("taskplane-web")
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FlaskInstrumentor.instrument_app(app, excluded_urls="livez,metrics")
    SQLAlchemyInstrumentor().instrument(engine=engine, enable_commenter=False)


def shutdown() -> None:
    """Flush and stop this process's exporters (a forked child's own provider only)."""
    provider = _state["provider"]
    if provider is not None and _state["pid"] == os.getpid():
        provider.shutdown()


def current_trace_id() -> str | None:
    """The hex trace id of the active span, if any."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def trace_id_from(headers) -> str | None:
    """The trace id of the active span, else of a valid W3C `traceparent` in `headers`."""
    trace_id = current_trace_id()
    if trace_id or "traceparent" not in headers:
        return trace_id
    context = trace.get_current_span(_W3C.extract(headers, getter=DefaultGetter()))
    span_context = context.get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


def annotate(**attributes) -> None:
    """Set `taskplane.*` attributes (tenant, project, job type, job id) on the active span."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({f"taskplane.{k}": v for k, v in attributes.items()
                             if v is not None})


def job_span(job_id: str, job_type: str):
    """The `job.execute` span around one run of a job's task (a no-op when tracing is off)."""
    if _state["provider"] is None:
        return contextlib.nullcontext()
    return trace.get_tracer("taskplane").start_as_current_span(
        "job.execute", attributes={"taskplane.job_id": job_id, "taskplane.job_type": job_type})
