"""A job that runs longer than the broker's redelivery window runs once, and its worker
keeps serving.

The window: Redis's `visibility_timeout` (`TASKPLANE_BROKER_REDELIVERY_SECONDS`), after
which a message its worker has not acknowledged is handed out again; RabbitMQ's
`consumer_timeout`, after which the server closes the channel of the worker holding it
and requeues it. Both are shortened here to a few seconds, under a job that runs longer
than the window and than kombu's check of it on Redis (every 10 s).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import Caller, worker_env
from tests.harness import CeleryWorker, RabbitServer, wait_until
from tests.tasks.conftest import outcomes_in

pytestmark = pytest.mark.e2e  # the RabbitMQ pass runs it on its own node
WINDOW = 2  # seconds
JOB_SECONDS = 14  # past the window, and past Redis's first look for overdue messages
RUNS = Path("/tmp/taskplane-runs")  # where `py-count` (tests/data/commands.toml) marks a run


@pytest.fixture
def short_window(broker_url, private_broker, tmp_path):
    """(broker URL, settings) of a broker that hands an unacknowledged message out again
    after WINDOW seconds: a Redis database of this test, or a RabbitMQ node of its own."""
    if broker_url.startswith("redis"):
        yield private_broker, {"broker_redelivery_seconds": WINDOW}
        return
    server = RabbitServer(tmp_path / "rabbitmq", consumer_timeout_ms=WINDOW * 1000)
    yield server.url(), {}
    server.stop()


def test_a_job_longer_than_the_redelivery_window_runs_once_and_the_worker_serves_on(
        app_factory, settings, short_window, tenant, tmp_path):
    from app.extensions import celery_app

    url, window = short_window
    app = app_factory(broker_url=url, **window)
    env = worker_env(dict(settings, broker_url=url))
    env.update({"TASKPLANE_BROKER_REDELIVERY_SECONDS": str(WINDOW)} if window else {})
    alice = Caller(app.test_client(), "alice", "viewer", tenant)
    worker = CeleryWorker("tasks", env, tmp_path / "worker.log", prefix="window")
    try:
        worker.wait_ready(celery_app)
        marker = uuid.uuid4().hex
        job = alice.submit("py-count", {"marker": marker, "seconds": JOB_SECONDS}).get_json()

        done = alice.wait_status(job["id"], "completed", timeout=60)
        # The broker did hand the message out again while the job ran, and that copy was
        # turned away: one run, one attempt. (The job's row says completed a moment before
        # the worker logs the delivery's outcome.)
        wait_until(lambda: {"completed", "skipped"} <= set(outcomes_in(worker, job["id"])), 30,
                   message="both deliveries' outcomes: completed, and the copy skipped")
        assert (RUNS / f"{marker}.log").read_text().split() == [job["id"]]
        assert done["attempts"] == 1
        assert outcomes_in(worker, job["id"]).count("completed") == 1

        after = alice.submit("echo", {"message": "after"}).get_json()
        assert alice.wait_status(after["id"], "completed", timeout=30)["attempts"] == 1
        worker.check_alive()
    finally:
        worker.stop()
        app_factory()  # back to the session's broker
