"""Jobs: submit, read, cancel and retry from the API; claim and finish from the worker.

Every status change is one compare-and-set UPDATE on the job row, committed together
with its timeline entry and its governance event, so two deliveries of one message
can never both run or both complete a job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import marshmallow as ma
from sqlalchemy import false, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.auth import Permission, Principal
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db, runtime
from app.models import Job, JobLog, JobTransition, new_id
from app.models.jobs import TERMINAL
from app.services import dispatch, events, job_ends, quotas
from app.services.pagination import Page, narrow, paginate

logger = logging.getLogger("taskplane.jobs")

JOBS, TRANSITIONS, LOGS = Job.__table__, JobTransition.__table__, JobLog.__table__
WAITING = ("queued", "retrying")
RETRYABLE_STATES = ("failed", "cancelled")


def _job_type(name: str):
    job_type = runtime.catalog.get(name)
    if job_type is None:
        raise ValidationFailed(
            f"unknown job type {name!r}",
            details={"job_type": [f"unknown job type; one of {sorted(runtime.catalog)}"]},
        )
    return job_type


def validate_payload(job_type_name: str, payload: dict) -> dict:
    """The payload loaded through the job type's schema; field errors become a 422."""
    job_type = _job_type(job_type_name)
    size = len(json.dumps(payload, separators=(",", ":")))
    if size > job_type.max_payload_bytes:
        raise ValidationFailed(
            "payload too large for this job type",
            details={"payload": [f"{size} bytes; at most {job_type.max_payload_bytes}"]},
        )
    try:
        return job_type.schema.dump(job_type.schema.load(payload))
    except ma.ValidationError as exc:
        raise ValidationFailed("invalid payload", details={"payload": exc.messages}) from exc


def _fingerprint(job_type: str, payload: dict, project: str, priority: int) -> str:
    blob = json.dumps([job_type, payload, project, priority], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _record(session, job, detail: str | None = None, **event_data) -> dict:
    """Insert the timeline entry and governance event for the status `job` just entered.

    The tenant's active-job counter of the type moves in the same transaction.
    """
    transition = {"job_id": job.id, "status": job.status, "attempt": job.attempts,
                  "at": job.updated_at, "detail": detail}
    session.execute(insert(TRANSITIONS), [transition])
    events.emit_for_job_status(session, job, **event_data)
    quotas.count_change(session, job)
    return transition


def _require_type_permission(principal: Principal, job_type: str) -> None:
    """The extra permission some job types need (`audit-report`: read governance)."""
    spec = runtime.catalog.get(job_type)
    if spec is not None and spec.permission:
        principal.require(Permission(spec.permission))


def submit(principal: Principal, *, job_type: str, payload: dict, project: str,
           priority: int, idempotency_key: str | None = None,
           trace_id: str | None = None, audit=None) -> tuple[Job, bool]:
    """Admit a job against the tenant's quota, store it queued, publish it: (job, created).

    The job row, its timeline entry, its event, the usage counters and (when the caller
    gives `audit(session, job_id)`) the call's audit record commit in one transaction.
    """
    spec = _job_type(job_type)
    _require_type_permission(principal, job_type)
    payload = validate_payload(job_type, payload)
    fingerprint = _fingerprint(job_type, payload, project, priority)
    session = db.session
    quota = quotas.lock(session, principal.tenant, job_type)
    if idempotency_key:  # under the lock: a replay answers the first job, using no quota
        try:
            existing = _by_idempotency_key(session, principal, idempotency_key, fingerprint)
        except Conflict:
            session.rollback()
            raise
        if existing is not None:
            session.commit()
            return existing, False
    quotas.admit_job(session, quota, principal, spec, project)
    now = utcnow()
    values = dict(id=new_id(), job_type=job_type, status="queued", tenant=principal.tenant,
                  project=project, actor=principal.actor, payload=payload, priority=priority,
                  max_retries=spec.max_retries, idempotency_key=idempotency_key,
                  request_fingerprint=fingerprint, trace_id=trace_id, created_at=now,
                  updated_at=now, progress=0.0, attempts=0, cancel_requested=False,
                  dispatched_at=now)
    job = Job(**values)  # not added to the session: the rows go in with plain INSERTs
    try:
        session.execute(insert(JOBS), [values])
        job.transitions = [JobTransition(**_record(session, job, reason=principal.reason))]
        if audit is not None:
            audit(session, job.id)
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = _by_idempotency_key(session, principal, idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, False
    publish(job)
    return job, True


def _by_idempotency_key(session, principal, key, fingerprint) -> Job | None:
    job = session.scalar(select(Job).where(Job.tenant == principal.tenant,
                                           Job.idempotency_key == key))
    if job is not None and job.request_fingerprint != fingerprint:
        raise Conflict("Idempotency-Key already used for a different request",
                       details={"idempotency_key": key, "job_id": job.id})
    return job


def publish(job: Job, countdown: float | None = None) -> bool:
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


def get(principal: Principal, job_id: str) -> Job:
    """The tenant's job `job_id`; the tenant-scoped session never finds another tenant's."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("job not found", details={"id": job_id})
    return job


def list_jobs(principal: Principal, filters: dict, cursor: str | None, limit: int) -> Page:
    """The tenant's jobs (the session is tenant-scoped), newest first, with the given filters."""
    stmt = narrow(select(Job), Job, filters, ("status", "job_type", "project", "actor"),
                  Job.created_at, since="created_after", until="created_before")
    return paginate(db.session, stmt, (Job.created_at, Job.id), cursor, limit)


def timeline(job: Job) -> list[JobTransition]:
    """The job's status changes, oldest first, up to the state `job` holds.

    A job read just before it was published may already be ahead in the database; its
    timeline then stops where the job as shown stops.
    """
    entries = list(job.transitions)
    for end in range(len(entries), 0, -1):
        if (entries[end - 1].status, entries[end - 1].attempt) == (job.status, job.attempts):
            return entries[:end]
    return entries


def logs(job: Job, since: int, limit: int) -> list[JobLog]:
    """Up to `limit` log entries of `job` after cursor `since`."""
    stmt = (select(JobLog).where(JobLog.job_id == job.id, JobLog.id > since)
            .order_by(JobLog.id).limit(limit))
    return list(db.session.scalars(stmt))


def refresh(job: Job) -> Job:
    """The job as stored now."""
    db.session.refresh(job)
    return job


def result(principal: Principal, job_id: str):
    """The handler's result of a completed job; 409 while it is not completed."""
    job = get(principal, job_id)
    _require_type_permission(principal, job.job_type)
    if job.status != "completed":
        raise Conflict("job has not completed", details={"status": job.status})
    return job.result


def _require_manage(principal: Principal, job: Job) -> None:
    if job.actor == principal.actor and principal.can(Permission.MANAGE_OWN_JOBS):
        return
    principal.require(Permission.MANAGE_TENANT_JOBS)


def _cas(job_id: str, where: tuple, **values):
    """Compare-and-set on one job row: the updated row when this call made the change."""
    values.setdefault("updated_at", utcnow())
    stmt = update(JOBS).where(JOBS.c.id == job_id, *where).values(**values).returning(*JOBS.c)
    return db.session.execute(stmt).one_or_none()


def _transition(job_id: str, where: tuple, *, detail: str | None = None, logs=(),
                event: dict | None = None, **values):
    """CAS the row, then commit it with its timeline entry, event and pending log lines."""
    if logs:
        db.session.execute(insert(LOGS), list(logs))
    job = _cas(job_id, where, **values)
    if job is None:
        db.session.rollback()
        return None
    _record(db.session, job, detail, **(event or {}))
    db.session.commit()
    if job.status in TERMINAL:
        job_ends.announce(job.id, job.status)
    return job


def cancel(principal: Principal, job_id: str) -> Job:
    """Cancel a queued job at once, or ask a running one to stop; 409 when terminal."""
    job = get(principal, job_id)
    _require_manage(principal, job)
    if _cas(job.id, (Job.status.notin_(TERMINAL),), cancel_requested=True) is None:
        db.session.rollback()
        raise Conflict(f"job is already {job.status}", details={"status": job.status})
    db.session.commit()  # from here on no worker can claim it, and a running one will stop
    # Queued: cancelled now. Running: the worker sees cancel_requested at its next heartbeat.
    _transition(job.id, (Job.status.in_(WAITING),), status="cancelled", completed_at=utcnow(),
                detail=f"cancelled by {principal.actor}", event={"reason": principal.reason})
    return refresh(job)


def retry(principal: Principal, job_id: str) -> Job:
    """Queue a failed or cancelled job again as a new attempt, within `max_active`; else 409."""
    job = get(principal, job_id)
    _require_manage(principal, job)
    _require_type_permission(principal, job.job_type)
    spec = runtime.catalog.get(job.job_type)
    if job.status in RETRYABLE_STATES and spec is not None:  # it would be active again
        quota = quotas.lock(db.session, job.tenant, job.job_type)
        quotas.admit_job(db.session, quota, principal, spec, job.project, submission=False)
    queued = _transition(job.id, (Job.status.in_(RETRYABLE_STATES),), status="queued",
                         cancel_requested=False, error=None, result=None, progress=0.0,
                         current_step=None, completed_at=None, dispatched_at=utcnow(),
                         lease_expires_at=None, detail=f"retried by {principal.actor}",
                         event={"reason": principal.reason})
    if queued is None:
        raise Conflict(f"only failed or cancelled jobs can be retried; job is {job.status}",
                       details={"status": job.status})
    refresh(job)  # as queued: once published, a worker may move it on at any moment
    publish(queued)
    return job


# --- worker side -------------------------------------------------------------------------


def _lapsed(now: dt.datetime):
    """A running attempt whose lease lapsed: its worker is gone (or cut off from us)."""
    return (Job.status == "running") & (Job.lease_expires_at < now)


def claim(job_id: str, worker: str, lease_seconds: float) -> tuple[str, Job | None]:
    """Take the job for one attempt: ("claimed", job), or ("skip", job|None) to drop the message.

    The attempt is counted here, whatever way the last one ended: a lapsed attempt whose
    budget is spent is not started again but ended by `settle_lapsed`. A job another
    attempt holds by a live lease is skipped too: that attempt's worker renews it, and
    if that worker is lost its lease lapses and `redispatch_stalled` publishes once.
    """
    now = utcnow()
    claimable = (Job.cancel_requested.is_(False),
                 Job.status.in_(WAITING) | (_lapsed(now) & (Job.attempts <= Job.max_retries)))
    job = _transition(job_id, claimable, status="running", attempts=Job.attempts + 1,
                      started_at=now, worker=worker, updated_at=now, retry_at=None,
                      lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
                      detail=f"on {worker}", event={"worker": worker})
    if job is not None:
        return "claimed", job
    job = db.session.get(Job, job_id, populate_existing=True)
    ended = None
    if job is not None and job.status in WAITING and job.cancel_requested:
        ended = _transition(job_id, (Job.status.in_(WAITING),), status="cancelled",
                            completed_at=now, detail="cancelled before it started")
    elif job is not None and job.status == "running" and job.lease_expires_at < now:
        ended = settle_lapsed(job, now)
    return "skip", ended or job


def settle_lapsed(job: Job, now: dt.datetime):
    """End a lapsed attempt that must not run again: `cancelled` when cancel was asked,
    `failed` with a `worker_lost` error when its budget is spent. The ended row, or None."""
    where = (*_running(job.attempts), Job.lease_expires_at < now)
    if job.cancel_requested:
        return _transition(job.id, where, status="cancelled", completed_at=now,
                           lease_expires_at=None,
                           detail=f"cancelled; the worker of attempt {job.attempts} was lost")
    if job.attempts <= job.max_retries:
        return None
    error = {"type": "worker_lost", "attempt": job.attempts,
             "message": f"the worker of attempt {job.attempts} was lost "
                        f"({job.attempts} attempts, max_retries {job.max_retries})"}
    return _transition(job.id, where, status="failed", error=error, completed_at=now,
                       lease_expires_at=None, detail=error["message"],
                       event={"error": error["message"]})


def lapse(job_id: str, worker: str) -> bool:
    """End the lease of the job's running attempt on `worker` now: its process was lost."""
    job = _cas(job_id, (Job.status == "running", Job.worker == worker),
               lease_expires_at=utcnow())
    db.session.commit()
    return job is not None


def _running(attempt: int) -> tuple:
    return (Job.status == "running", Job.attempts == attempt)


def heartbeat(job_id: str, attempt: int, lease_seconds: float) -> bool | None:
    """Extend the attempt's lease; returns whether cancel was asked (None: attempt is gone)."""
    expires = utcnow() + dt.timedelta(seconds=lease_seconds)
    job = _cas(job_id, _running(attempt), lease_expires_at=expires)
    db.session.commit()
    return None if job is None else job.cancel_requested


def set_progress(job_id: str, attempt: int, fraction: float, step: str | None) -> None:
    """Record progress (0..1) and the current step of a running attempt."""
    values = {"progress": max(0.0, min(1.0, float(fraction)))}
    if step is not None:
        values["current_step"] = step[:256]
    _cas(job_id, _running(attempt), **values)
    db.session.commit()


def log_entry(job_id: str, attempt: int, message: str, *, stream: str = "log",
              level: str = "info") -> dict:
    """A log line of a job, cut to the configured maximum length, not yet stored."""
    limit = runtime.settings.max_log_line
    if len(message) > limit:
        message = message[:limit] + "…[truncated]"
    return {"job_id": job_id, "attempt": attempt, "stream": stream, "level": level,
            "message": message, "at": utcnow()}


def store_logs(entries: list[dict]) -> None:
    """Store log lines in one transaction."""
    db.session.execute(insert(LOGS), entries)
    db.session.commit()


def complete(job_id: str, attempt: int, result, logs=()) -> bool:
    """Finish the attempt as completed with `result`; False if it was no longer ours."""
    return _transition(job_id, _running(attempt), status="completed", result=result,
                       progress=1.0, completed_at=utcnow(), error=None,
                       lease_expires_at=None, logs=logs) is not None


def finish_cancelled(job_id: str, attempt: int, logs=()) -> bool:
    """Finish a running attempt that honoured a cancel request."""
    return _transition(job_id, _running(attempt), status="cancelled", completed_at=utcnow(),
                       lease_expires_at=None, detail="stopped on request",
                       logs=logs) is not None


def fail(job_id: str, error: dict, attempt: int | None = None, *,
         retry_in: float | None = None, logs=()) -> bool:
    """Finish an attempt as `retrying` in `retry_in` seconds, or `failed` (budget spent).

    Without `attempt` (Celery saw the failure first, e.g. a hard time limit), any
    unfinished attempt of the job is failed. A retry's due time is stored, so the
    sweeper can recover it when its delayed message dies with its worker.
    """
    now = utcnow()
    where = (_running(attempt) if attempt is not None
             else (Job.status.in_(("running", "retrying")),))
    values = {"status": "failed", "completed_at": now, "retry_at": None}
    if retry_in is not None:
        values = {"status": "retrying", "dispatched_at": now,
                  "retry_at": now + dt.timedelta(seconds=retry_in)}
    return _transition(job_id, where, detail=error.get("message"), logs=logs, error=error,
                       lease_expires_at=None, event={"error": error.get("message")},
                       **values) is not None


def _lost_messages(now: dt.datetime, grace: dt.timedelta):
    """Jobs of a drained queue dispatched a while ago: no message of theirs is waiting."""
    try:
        depths = dispatch.queue_depths()
    except Exception:  # noqa: BLE001 - broker down: nothing can be told, or published
        return false()
    types = [jt.name for jt in runtime.catalog.values() if depths.get(jt.queue, 1) == 0]
    return (Job.dispatched_at < now - grace) & Job.job_type.in_(types)


def _stalled(now: dt.datetime, grace: dt.timedelta):
    """Jobs whose message may be gone and that no publish has answered yet.

    Each stall is answered once: a publish moves `dispatched_at` past the moment the job
    stalled (its lease lapsed, its retry fell due), which ends the match; only a job
    whose queue has drained since (its message is surely gone) matches again.
    """
    lost = _lost_messages(now, grace)
    unanswered = Job.dispatched_at.is_(None)
    return (
        ((Job.status == "queued") & ((unanswered & (Job.created_at < now - grace)) | lost))
        | (_lapsed(now - grace) & Job.cancel_requested.is_(False)
           & (Job.attempts <= Job.max_retries)
           & (unanswered | (Job.dispatched_at < Job.lease_expires_at) | lost))
        | ((Job.status == "retrying") & (Job.retry_at < now - grace)
           & (unanswered | (Job.dispatched_at < Job.retry_at) | lost))
    )


def redispatch_stalled(now: dt.datetime | None = None) -> list[str]:
    """End lapsed attempts that must not run again; publish once more jobs whose message
    may be gone: queued ones whose send failed or whose queue drained, running ones whose
    lease lapsed, retrying ones whose retry is overdue by the dispatch grace.

    Whoever moves `dispatched_at` (one UPDATE whose WHERE re-checks the stall) publishes,
    so two sweeps at once, or a sweep while a message waits, add no copy.
    """
    now = now or utcnow()
    grace = dt.timedelta(seconds=runtime.settings.dispatch_grace_seconds)
    abandoned = select(Job).where(_lapsed(now), Job.cancel_requested.is_(True)
                                  | (Job.attempts > Job.max_retries)).limit(1000)
    for job in db.session.scalars(abandoned).all():
        settle_lapsed(job, now)
    stalled = _stalled(now, grace)
    ids = select(Job.id).where(stalled).limit(1000).scalar_subquery()
    won = db.session.execute(update(Job).where(Job.id.in_(ids), stalled)
                             .values(dispatched_at=now)
                             .returning(Job.id, Job.job_type, Job.priority)).all()
    db.session.commit()
    return [job.id for job in won if job.job_type in runtime.catalog and publish(job)]
