"""What the broker holds, on Redis and on RabbitMQ alike: priorities and queue depth."""

from __future__ import annotations

import pytest

from tests.conftest import Caller, settled_readiness, worker_env
from tests.harness import CeleryWorker

pytestmark = pytest.mark.e2e


@pytest.fixture
def quiet_app(app_factory, private_broker):
    """An app on a broker of this module alone, where no worker consumes until told to."""
    yield app_factory(broker_url=private_broker)
    app_factory()  # back to the session's broker


def test_readiness_counts_the_messages_waiting_in_the_brokers_queue(quiet_app, tenant):
    alice = Caller(quiet_app.test_client(), "alice", "viewer", tenant)
    client = quiet_app.test_client()
    before = settled_readiness(client).get_json()["queue_depth"].get("default", 0)
    for n in range(3):
        assert alice.submit("echo", {"message": f"m{n}"}, priority=9).status_code == 202

    # The next background round counts them.
    report = settled_readiness(client, lambda body: body["queue_depth"].get("default") != before)

    assert report.status_code == 503  # no worker on this broker
    assert report.get_json()["queue_depth"]["default"] == before + 3


def test_a_more_urgent_job_submitted_last_runs_first(quiet_app, settings, private_broker,
                                                     tenant, tmp_path):
    alice = Caller(quiet_app.test_client(), "alice", "viewer", tenant)
    env = worker_env(dict(settings, broker_url=private_broker))
    with CeleryWorker("tasks", env, tmp_path / "worker.log", paused=True, concurrency=1,
                      prefix="priority") as worker:
        worker.wait_ready(quiet_app.extensions["celery"])
        backlog = [alice.submit("echo", {"message": f"low {n}"}, priority=0).get_json()["id"]
                   for n in range(4)]
        urgent = alice.submit("echo", {"message": "urgent"}, priority=9).get_json()["id"]

        worker.consume(quiet_app.extensions["celery"], "default")

        jobs = [alice.wait_status(job_id, "completed", timeout=60)
                for job_id in [urgent, *backlog]]
    started = sorted(jobs, key=lambda job: job["started_at"])
    assert started[0]["id"] == urgent
