"""Governance events: stored for `/events` and written to the structured log."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from app.db import utcnow
from app.models import GovernanceEvent, Job
from app.services.pagination import Page, paginate

logger = logging.getLogger("taskplane.events")

JOB_STATUS_EVENTS = {
    "queued": "service_job_enqueued",
    "running": "service_job_started",
    "retrying": "service_job_retried",
    "completed": "service_job_completed",
    "failed": "service_job_failed",
    "cancelled": "service_job_cancelled",
}


def emit(session, event_type: str, *, tenant: str, job: Job | None = None, **data) -> None:
    """Add one governance event to `session` (committed with the caller's change)."""
    event = GovernanceEvent(type=event_type, at=utcnow(), tenant=tenant, data=data)
    if job is not None:
        event.project = job.project
        event.actor = job.actor
        event.job_id = job.id
        event.job_type = job.job_type
        event.attempt = job.attempts
        event.max_retries = job.max_retries
        event.trace_id = job.trace_id
        data.setdefault("log", f"/jobs/{job.id}/logs")
    session.add(event)
    record = {
        "event": event_type,
        "tenant": tenant,
        "project": event.project,
        "actor": event.actor,
        "job_id": event.job_id,
        "job_type": event.job_type,
        "attempt": event.attempt,
        "max_retries": event.max_retries,
        "trace_id": event.trace_id,
        "at": event.at.isoformat(),
        **data,
    }
    warn = event_type.endswith(("failed", "exceeded", "warning"))
    level = logging.WARNING if warn else logging.INFO
    logger.log(level, json.dumps(record, default=str))


def emit_for_job_status(session, job: Job, **data) -> None:
    """The governance event that goes with `job` having just entered its current status."""
    emit(session, JOB_STATUS_EVENTS[job.status], tenant=job.tenant, job=job, **data)


def list_events(session, tenant: str, *, filters: dict, cursor: str | None, limit: int) -> Page:
    """The tenant's governance events, newest first, filtered by type, job_id and since."""
    stmt = select(GovernanceEvent).where(GovernanceEvent.tenant == tenant)
    if filters.get("type"):
        stmt = stmt.where(GovernanceEvent.type == filters["type"])
    if filters.get("job_id"):
        stmt = stmt.where(GovernanceEvent.job_id == filters["job_id"])
    if filters.get("since"):
        stmt = stmt.where(GovernanceEvent.at >= filters["since"])
    return paginate(session, stmt, (GovernanceEvent.id,), cursor, limit)
