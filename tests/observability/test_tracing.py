"""End to end: a `traceparent` sent with POST /jobs continues into the task and its SQL.

gunicorn and the worker export OTLP over HTTP to a receiver this test runs.
"""

from __future__ import annotations

import uuid

import pytest

from tests.harness import wait_until
from tests.observability.conftest import log_lines, start_stack
from tests.observability.otlp import CONSUMER, PRODUCER, SERVER, Receiver


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
