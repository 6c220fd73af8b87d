"""Governance events: stored for `/events` and written to the structured log."""

from __future__ import annotations

import json
import logging

from sqlalchemy import insert, select

from app.db import utcnow
from app.models import GovernanceEvent
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


def emit(session, event_type: str, *, tenant: str, job=None, **data) -> None:
    """Insert one governance event in `session`'s transaction (committed with the change).

    `job` is a job row (ORM object or Core row): its type, project, actor, attempt and
    trace id go with the event.
    """
    event = {"type": event_type, "at": utcnow(), "tenant": tenant, "project": None,
             "actor": None, "job_id": None, "job_type": None, "attempt": None,
             "max_retries": None, "trace_id": None}
    if job is not None:
        event.update(project=job.project, actor=job.actor, job_id=job.id,
                     job_type=job.job_type, attempt=job.attempts,
                     max_retries=job.max_retries, trace_id=job.trace_id)
        data.setdefault("log", f"/jobs/{job.id}/logs")
    session.execute(insert(GovernanceEvent.__table__), [dict(event, data=data)])
    record = {"event": event_type, **{k: v for k, v in event.items() if k != "type"},
              "at": event["at"].isoformat(), **data}
    warn = event_type.endswith(("failed", "exceeded", "warning"))
    level = logging.WARNING if warn else logging.INFO
    logger.log(level, json.dumps(record, default=str))


def emit_for_job_status(session, job, **data) -> None:
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
