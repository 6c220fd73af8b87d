"""Celery signals → governance event, job metrics and log context, with pytest-celery.

pytest-celery's Docker-based worker fixtures do not run here; its embedded-worker pieces
(`celery_worker_pool`, `celery_worker_parameters` and Celery's `start_worker`) run a real
worker thread in this process against the suite's redis-server, on a broker database of
its own, so the signal handlers fire where the test can read this process's metrics.
"""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from celery.contrib.testing.worker import start_worker

from app import metrics
from app.logs import JsonFormatter
from tests.harness import wait_until
from tests.observability.conftest import own_broker

PROBE_QUEUE = "observability-probe"


class ProbeFailure(RuntimeError):
    """What the probe task raises."""


@pytest.fixture
def embedded(app_factory, redis_url, celery_worker_pool, celery_worker_parameters):
    """The Flask app on a broker database of its own, and a worker thread consuming the probe."""
    from app.extensions import celery_app
    from tasks import signals, telemetry  # noqa: F401 - the handlers under test

    app = app_factory(broker_url=own_broker(redis_url, 6))

    @celery_app.task(name="taskplane.job.echo", bind=True, job_type="echo", shared=False)
    def probe(self, job_id):
        logging.getLogger("taskplane.probe").warning("probe ran")
        raise ProbeFailure("the probe fails on purpose")

    with app.app_context(), start_worker(celery_app, pool=celery_worker_pool,
                                         perform_ping_check=False, queues=[PROBE_QUEUE],
                                         **celery_worker_parameters):
        yield app, probe
    celery_app.tasks.pop("taskplane.job.echo", None)
    app_factory()


def test_task_failure_signal_fails_the_job_with_its_event_and_metric(embedded):
    from app.services import job_runs

    app, probe = embedded
    client = app.test_client()
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    headers = {"X-Actor": "alice", "X-Roles": "operator", "X-Tenant": tenant}
    job = client.post("/jobs", headers=headers, json={
        "job_type": "echo", "project": "p", "payload": {"message": "m"}}).get_json()
    assert job_runs.claim(job["id"], "probe-worker", 30)[0] == "claimed"
    before = metrics.JOBS.labels("echo", "failed")._value.get()
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonFormatter())  # formats in the worker thread, where the job runs
    logging.getLogger("taskplane.probe").addHandler(handler)

    probe.apply_async(args=[job["id"]], task_id=job["id"], queue=PROBE_QUEUE)

    failed = wait_until(lambda: (j := client.get(f"/jobs/{job['id']}", headers=headers)
                                 .get_json())["status"] == "failed" and j, 30,
                        message="the task_failure signal to fail the job")
    assert failed["error"]["type"] == "ProbeFailure"
    events = client.get(f"/events?job_id={job['id']}", headers=headers).get_json()["items"]
    assert "service_job_failed" in {event["type"] for event in events}
    assert metrics.JOBS.labels("echo", "failed")._value.get() == before + 1
    logging.getLogger("taskplane.probe").removeHandler(handler)
    probe_line = json.loads(written.getvalue().splitlines()[0])
    assert probe_line["job_id"] == job["id"]  # task_prerun named the job in the log context
    assert probe_line["level"] == "WARNING" and probe_line["message"] == "probe ran"
