"""Jobs from the API's side: submit, read, cancel and retry.

Status changes go through `job_transitions`; the worker's side of a job is in
`job_runs`, the sweeper's in `job_sweeps`.
"""

from __future__ import annotations

import hashlib
import json

import marshmallow as ma
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.auth import Permission, Principal
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db, runtime
from app.models import Job, JobLog, JobState, JobTransition, new_id
from app.models.jobs import TERMINAL
from app.services import quotas
from app.services.job_transitions import JOBS, WAITING, cas, publish, record, transition
from app.services.pagination import Page, narrow, paginate
from config.catalog import JobType

RETRYABLE_STATES = (JobState.FAILED, JobState.CANCELLED)


def _spec(job_type: str) -> JobType:
    """The catalog's job type named `job_type`; an unknown name is a 422."""
    spec = runtime.catalog.get(job_type)
    if spec is None:
        raise ValidationFailed(
            f"unknown job type {job_type!r}",
            details={"job_type": [f"unknown job type; one of {sorted(runtime.catalog)}"]},
        )
    return spec


def validate_payload(spec: JobType, payload: dict) -> dict:
    """The payload loaded through the job type's schema; field errors become a 422."""
    size = len(json.dumps(payload, separators=(",", ":")))
    if size > spec.max_payload_bytes:
        raise ValidationFailed(
            "payload too large for this job type",
            details={"payload": [f"{size} bytes; at most {spec.max_payload_bytes}"]},
        )
    try:
        return spec.schema.dump(spec.schema.load(payload))
    except ma.ValidationError as exc:
        raise ValidationFailed("invalid payload", details={"payload": exc.messages}) from exc


def _fingerprint(job_type: str, payload: dict, project: str, priority: int) -> str:
    blob = json.dumps([job_type, payload, project, priority], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _require_type_permission(principal: Principal, spec: JobType | None) -> None:
    """The extra permission some job types need (`audit-report`: read governance)."""
    if spec is not None and spec.permission:
        principal.require(Permission(spec.permission))


def submit(principal: Principal, *, job_type: str, payload: dict, project: str,
           priority: int, idempotency_key: str | None = None,
           trace_id: str | None = None, audit=None) -> tuple[Job, bool]:
    """Admit a job against the tenant's quota, store it queued, publish it: (job, created).

    The job row, its timeline entry, its event, the usage counters and (when the caller
    gives `audit(session, job_id)`) the call's audit record commit in one transaction.
    """
    spec = _spec(job_type)
    _require_type_permission(principal, spec)
    payload = validate_payload(spec, payload)
    fingerprint = _fingerprint(job_type, payload, project, priority)
    session = db.session
    quota = quotas.lock(session, principal.tenant, job_type)
    if idempotency_key:  # under the lock: a replay answers the first job, using no quota
        try:
            existing = _by_idempotency_key(session, idempotency_key, fingerprint)
        except Conflict:
            session.rollback()
            raise
        if existing is not None:
            session.commit()
            return existing, False
    quotas.admit_job(session, quota, principal, spec, project)
    now = utcnow()
    values = dict(id=new_id(), job_type=job_type, status=JobState.QUEUED, tenant=principal.tenant,
                  project=project, actor=principal.actor, payload=payload, priority=priority,
                  max_retries=spec.max_retries, idempotency_key=idempotency_key,
                  request_fingerprint=fingerprint, trace_id=trace_id, created_at=now,
                  updated_at=now, progress=0.0, attempts=0, cancel_requested=False,
                  dispatched_at=now)
    job = Job(**values)  # not added to the session: the rows go in with plain INSERTs
    try:
        session.execute(insert(JOBS), [values])
        job.transitions = [JobTransition(**record(session, job, reason=principal.reason))]
        if audit is not None:
            audit(session, job.id)
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = _by_idempotency_key(session, idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, False
    publish(job)
    return job, True


def _by_idempotency_key(session, key, fingerprint) -> Job | None:
    """The job submitted with `key` (in the request's tenant-scoped session: the tenant's)."""
    job = session.scalar(select(Job).where(Job.idempotency_key == key))
    if job is not None and job.request_fingerprint != fingerprint:
        raise Conflict("Idempotency-Key already used for a different request",
                       details={"idempotency_key": key, "job_id": job.id})
    return job


def get(job_id: str) -> Job:
    """The tenant's job `job_id`; the tenant-scoped session never finds another tenant's."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("job not found", details={"id": job_id})
    return job


def list_jobs(filters: dict, cursor: str | None, limit: int) -> Page:
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
    job = get(job_id)
    _require_type_permission(principal, runtime.catalog.get(job.job_type))
    if job.status != JobState.COMPLETED:
        raise Conflict("job has not completed", details={"status": job.status})
    return job.result


def _require_manage(principal: Principal, job: Job) -> None:
    if job.actor == principal.actor and principal.can(Permission.MANAGE_OWN_JOBS):
        return
    principal.require(Permission.MANAGE_TENANT_JOBS)


def cancel(principal: Principal, job_id: str) -> Job:
    """Cancel a queued job at once, or ask a running one to stop; 409 when terminal."""
    job = get(job_id)
    _require_manage(principal, job)
    if cas(job.id, (Job.status.notin_(TERMINAL),), cancel_requested=True) is None:
        db.session.rollback()
        raise Conflict(f"job is already {job.status}", details={"status": job.status})
    db.session.commit()  # from here on no worker can claim it, and a running one will stop
    # Queued: cancelled now. Running: the worker sees cancel_requested at its next heartbeat.
    transition(job.id, (Job.status.in_(WAITING),), status=JobState.CANCELLED,
               completed_at=utcnow(), detail=f"cancelled by {principal.actor}",
               event={"reason": principal.reason})
    return refresh(job)


def retry(principal: Principal, job_id: str) -> Job:
    """Queue a failed or cancelled job again as a new attempt, within `max_active`; else 409."""
    job = get(job_id)
    _require_manage(principal, job)
    spec = runtime.catalog.get(job.job_type)
    _require_type_permission(principal, spec)
    if job.status in RETRYABLE_STATES and spec is not None:  # it would be active again
        quota = quotas.lock(db.session, job.tenant, job.job_type)
        quotas.admit_job(db.session, quota, principal, spec, job.project, submission=False)
    queued = transition(job.id, (Job.status.in_(RETRYABLE_STATES),), status=JobState.QUEUED,
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
