"""Jobs from the worker's side: claim an attempt, keep its lease, record its progress,
logs and end. The runner, the job context and the Celery signals call these."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from app.db import utcnow
from app.extensions import db, runtime
from app.models import Job, JobState
from app.services.job_transitions import (
    LOGS,
    WAITING,
    cas,
    lapsed,
    running,
    settle_lapsed,
    transition,
)


def claim(job_id: str, worker: str, lease_seconds: float) -> tuple[str, Job | None]:
    """Take the job for one attempt: ("claimed", job), or ("skip", job|None) to drop the message.

    The attempt is counted here, whatever way the last one ended: a lapsed attempt whose
    budget is spent is not started again but ended by `settle_lapsed`. A job another
    attempt holds by a live lease is skipped too: that attempt's worker renews it, and
    if that worker is lost its lease lapses and `redispatch_stalled` publishes once.
    """
    now = utcnow()
    claimable = (Job.cancel_requested.is_(False),
                 Job.status.in_(WAITING) | (lapsed(now) & (Job.attempts <= Job.max_retries)))
    job = transition(job_id, claimable, status=JobState.RUNNING, attempts=Job.attempts + 1,
                     started_at=now, worker=worker, updated_at=now, retry_at=None,
                     lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
                     detail=f"on {worker}", event={"worker": worker})
    if job is not None:
        return "claimed", job
    job = db.session.get(Job, job_id, populate_existing=True)
    ended = None
    if job is not None and job.status in WAITING and job.cancel_requested:
        ended = transition(job_id, (Job.status.in_(WAITING),), status=JobState.CANCELLED,
                           completed_at=now, detail="cancelled before it started")
    elif job is not None and job.status == JobState.RUNNING and job.lease_expires_at < now:
        ended = settle_lapsed(job, now)
    return "skip", ended or job


def lapse(job_id: str, worker: str) -> bool:
    """End the lease of the job's running attempt on `worker` now: its process was lost."""
    job = cas(job_id, (Job.status == JobState.RUNNING, Job.worker == worker),
              lease_expires_at=utcnow())
    db.session.commit()
    return job is not None


def heartbeat(job_id: str, attempt: int, lease_seconds: float) -> bool | None:
    """Extend the attempt's lease; returns whether cancel was asked (None: attempt is gone)."""
    expires = utcnow() + dt.timedelta(seconds=lease_seconds)
    job = cas(job_id, running(attempt), lease_expires_at=expires)
    db.session.commit()
    return None if job is None else job.cancel_requested


def progress_values(fraction: float, step: str | None) -> dict:
    """The columns a progress report (0..1) and its current step set."""
    values = {"progress": max(0.0, min(1.0, float(fraction)))}
    if step is not None:
        values["current_step"] = step[:256]
    return values


def store_writes(job_id: str, attempt: int, logs=(), progress: dict | None = None, *,
                 commit: bool = True) -> None:
    """Store a running attempt's buffered log lines and latest progress in one transaction.

    With `commit=False` they join the transaction the attempt's end then commits.
    """
    if logs:
        db.session.execute(insert(LOGS), list(logs))
    if progress:
        cas(job_id, running(attempt), **progress)
    if commit:
        db.session.commit()


def log_entry(job_id: str, attempt: int, message: str, *, stream: str = "log",
              level: str = "info") -> dict:
    """A log line of a job, cut to the configured maximum length, not yet stored."""
    limit = runtime.settings.max_log_line
    if len(message) > limit:
        message = message[:limit] + "…[truncated]"
    return {"job_id": job_id, "attempt": attempt, "stream": stream, "level": level,
            "message": message, "at": utcnow()}


def complete(job_id: str, attempt: int, result, logs=()) -> bool:
    """Finish the attempt as completed with `result`; False if it was no longer ours."""
    return transition(job_id, running(attempt), status=JobState.COMPLETED, result=result,
                      progress=1.0, completed_at=utcnow(), error=None,
                      lease_expires_at=None, logs=logs) is not None


def finish_cancelled(job_id: str, attempt: int, logs=()) -> bool:
    """Finish a running attempt that honoured a cancel request."""
    return transition(job_id, running(attempt), status=JobState.CANCELLED,
                      completed_at=utcnow(), lease_expires_at=None,
                      detail="stopped on request", logs=logs) is not None


def fail(job_id: str, error: dict, attempt: int | None = None, *,
         retry_in: float | None = None, logs=()) -> bool:
    """Finish an attempt as `retrying` in `retry_in` seconds, or `failed` (budget spent).

    Without `attempt` (Celery saw the failure first, e.g. a hard time limit), any
    unfinished attempt of the job is failed. A retry's due time is stored, so the
    sweeper can recover it when its delayed message dies with its worker.
    """
    now = utcnow()
    where = (running(attempt) if attempt is not None
             else (Job.status.in_((JobState.RUNNING, JobState.RETRYING)),))
    values = {"status": JobState.FAILED, "completed_at": now, "retry_at": None}
    if retry_in is not None:
        values = {"status": JobState.RETRYING, "dispatched_at": now,
                  "retry_at": now + dt.timedelta(seconds=retry_in)}
    return transition(job_id, where, detail=error.get("message"), logs=logs, error=error,
                      lease_expires_at=None, event={"error": error.get("message")},
                      **values) is not None
