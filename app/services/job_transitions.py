"""Job status changes, the core the API side, the worker side and the sweeper share.

Every status change is one compare-and-set UPDATE on the job row, committed together
with its timeline entry and its governance event, so two deliveries of one message
can never both run or both complete a job.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import insert, update

from app.db import utcnow
from app.extensions import db
from app.models import Job, JobLog, JobTransition
from app.models.jobs import TERMINAL, JobState
from app.services import dispatch, events, job_ends, quotas

logger = logging.getLogger("taskplane.jobs")

JOBS, TRANSITIONS, LOGS = Job.__table__, JobTransition.__table__, JobLog.__table__
WAITING = (JobState.QUEUED, JobState.RETRYING)  # a message of theirs may start them


def record(session, job, detail: str | None = None, **event_data) -> dict:
    """Insert the timeline entry and governance event for the status `job` just entered.

    The tenant's active-job counter of the type moves in the same transaction.
    """
    entry = {"job_id": job.id, "status": job.status, "attempt": job.attempts,
             "at": job.updated_at, "detail": detail}
    session.execute(insert(TRANSITIONS), [entry])
    events.emit_for_job_status(session, job, **event_data)
    quotas.count_change(session, job)
    return entry


def publish(job, countdown: float | None = None) -> bool:
    """Send the job's message; when the broker fails, mark it undispatched for the sweeper.

    Callers store `dispatched_at` with the change that queues the job, so a healthy
    submit costs one transaction; only a failed send writes again.
    """
    try:
        dispatch.send_job(job.id, job.job_type, job.priority, countdown=countdown)
    except Exception:
        logger.exception("dispatch of job %s failed; the sweeper will retry", job.id)
        db.session.rollback()
        db.session.execute(update(Job).where(Job.id == job.id).values(dispatched_at=None))
        db.session.commit()
        return False
    return True


def cas(job_id: str, where: tuple, **values):
    """Compare-and-set on one job row: the updated row when this call made the change."""
    values.setdefault("updated_at", utcnow())
    stmt = update(JOBS).where(JOBS.c.id == job_id, *where).values(**values).returning(*JOBS.c)
    return db.session.execute(stmt).one_or_none()


def transition(job_id: str, where: tuple, *, detail: str | None = None, logs=(),
               event: dict | None = None, **values):
    """CAS the row, then commit it with its timeline entry, event and pending log lines."""
    if logs:
        db.session.execute(insert(LOGS), list(logs))
    job = cas(job_id, where, **values)
    if job is None:
        db.session.rollback()
        return None
    record(db.session, job, detail, **(event or {}))
    db.session.commit()
    if job.status in TERMINAL:
        job_ends.announce(job.id, job.status)
    return job


def running(attempt: int) -> tuple:
    """The job's attempt `attempt` is the one running."""
    return (Job.status == JobState.RUNNING, Job.attempts == attempt)


def lapsed(now: dt.datetime):
    """A running attempt whose lease lapsed: its worker is gone (or cut off from us)."""
    return (Job.status == JobState.RUNNING) & (Job.lease_expires_at < now)


def settle_lapsed(job: Job, now: dt.datetime):
    """End a lapsed attempt that must not run again: `cancelled` when cancel was asked,
    `failed` with a `worker_lost` error when its budget is spent. The ended row, or None."""
    where = (*running(job.attempts), Job.lease_expires_at < now)
    if job.cancel_requested:
        return transition(job.id, where, status=JobState.CANCELLED, completed_at=now,
                          lease_expires_at=None,
                          detail=f"cancelled; the worker of attempt {job.attempts} was lost")
    if job.attempts <= job.max_retries:
        return None
    error = {"type": "worker_lost", "attempt": job.attempts,
             "message": f"the worker of attempt {job.attempts} was lost "
                        f"({job.attempts} attempts, max_retries {job.max_retries})"}
    return transition(job.id, where, status=JobState.FAILED, error=error, completed_at=now,
                      lease_expires_at=None, detail=error["message"],
                      event={"error": error["message"]})
