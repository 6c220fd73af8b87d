"""The sweeper publishes once per stall: sweeps at once, or again and again, add no copy.

No worker consumes this test's broker database, so every message the sweeper sends
stays in the queue list where the test counts it.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import update

from app.db import utcnow
from app.extensions import db, runtime
from app.models import Job
from app.services import job_sweeps


def set_row(job_id: str, **values) -> None:
    """Put the job row in the state a test needs, as a worker would have left it."""
    db.session.execute(update(Job).where(Job.id == job_id).values(**values))
    db.session.commit()


def messages(stack, job_id: str) -> int:
    """How many messages of the job the broker holds, in any queue or reserved."""
    return sum(stack.copies(job_id).values())


def sweep_at_once(count: int, now: dt.datetime) -> list[str]:
    """`count` sweeps at the same moment, each in its own thread (its own session)."""
    published, failures, start = [], [], threading.Barrier(count)

    def sweep():
        start.wait()
        try:
            published.extend(job_sweeps.redispatch_stalled(now=now))
        except Exception as exc:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(exc)
        finally:
            db.release()

    threads = [threading.Thread(target=sweep) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return published


def test_a_lapsed_attempt_is_published_once_by_concurrent_and_repeated_sweeps(private_stack):
    alice = private_stack.caller()
    job_id = alice.submit("sleep", {"seconds": 1}).get_json()["id"]
    assert messages(private_stack, job_id) == 1  # the submit's message, waiting
    now = utcnow()
    with private_stack.app.app_context():
        set_row(job_id, status="running", attempts=1, worker="gone@host",
                dispatched_at=now - dt.timedelta(seconds=90),
                lease_expires_at=now - dt.timedelta(seconds=60))

        assert sweep_at_once(3, now).count(job_id) == 1
        for later in (1, 2, 3):
            later_now = now + dt.timedelta(seconds=later)
            assert job_id not in job_sweeps.redispatch_stalled(now=later_now)

    assert messages(private_stack, job_id) == 2


def test_an_overdue_retry_is_recovered_after_its_own_backoff(private_stack):
    alice = private_stack.caller()
    job_id = alice.submit("echo", {"message": "x"}).get_json()["id"]
    private_stack.broker.delete(*private_stack.copies(job_id))  # it died with its worker
    now = utcnow()
    backoff = dt.timedelta(seconds=2)
    grace = dt.timedelta(seconds=runtime.settings.dispatch_grace_seconds)
    with private_stack.app.app_context():
        set_row(job_id, status="retrying", attempts=1, dispatched_at=now, retry_at=now + backoff)

        assert job_id not in job_sweeps.redispatch_stalled(now=now + backoff)
        assert job_id in job_sweeps.redispatch_stalled(now=now + backoff + grace * 1.5)
        assert job_id not in job_sweeps.redispatch_stalled(now=now + backoff + grace * 1.6)

    assert messages(private_stack, job_id) == 1
