"""The sweeper: a job whose publish failed is dispatched again once past the grace period."""

from __future__ import annotations

import datetime as dt
import socket
import time

from sqlalchemy import select

from app.extensions import db, runtime
from app.models import Job
from app.services import job_sweeps


def closed_broker_url() -> str:
    """A Redis URL on a local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def stored(job_id: str) -> Job:
    """The job row as committed now."""
    db.session.rollback()
    return db.session.scalar(select(Job).where(Job.id == job_id))


def test_job_whose_publish_failed_is_redispatched_and_completes(worker, app_factory, caller):
    alice = caller("viewer")
    # The factory binds the process's Celery app, so this app publishes to a dead port.
    broken = app_factory(broker_url=closed_broker_url())
    submitted = broken.test_client().post(
        "/jobs", headers=alice.headers,
        json={"job_type": "echo", "payload": {"message": "late"}, "project": "proj"})
    assert submitted.status_code == 202  # the row is committed even though publish failed
    job_id = submitted.get_json()["id"]

    app = app_factory()  # the broker is back
    with app.app_context():
        job = stored(job_id)
        assert (job.status, job.dispatched_at) == ("queued", None)
        grace = dt.timedelta(seconds=runtime.settings.dispatch_grace_seconds)
        assert job_id not in job_sweeps.redispatch_stalled(now=job.created_at + grace / 2)
        time.sleep(max(0.0, (job.created_at + grace - dt.datetime.now(dt.UTC)).total_seconds()))
        assert stored(job_id).status == "queued"  # no message anywhere: nothing ran it

        assert job_id in job_sweeps.redispatch_stalled()
        assert stored(job_id).dispatched_at is not None

    job = alice.wait_status(job_id, ("completed", "failed"), timeout=20)
    assert job["status"] == "completed"
    assert job["attempts"] == 1
