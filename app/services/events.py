"""Governance events: stored for `/events` and written to the structured log."""

from __future__ import annotations

import json
import logging

import sqlalchemy.event
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import GovernanceEvent
from app.services import job_telemetry
from app.services.pagination import Page, narrow, paginate

logger = logging.getLogger("taskplane.events")
UNLOGGED = "taskplane.unlogged_events"  # session.info key: events awaiting their commit

JOB_STATUS_EVENTS = {
    "queued": "service_job_enqueued",
    "running": "service_job_started",
    "retrying": "service_job_retried",
    "completed": "service_job_completed",
    "failed": "service_job_failed",
    "cancelled": "service_job_cancelled",
}


def emit(session, event_type: str, *, tenant: str, job=None, project: str | None = None,
         actor: str | None = None, job_type: str | None = None, job_id: str | None = None,
         **data) -> None:
    """Insert one governance event in `session`'s transaction (committed with the change).

    The structured log line follows once the transaction commits, outside the write lock.

    `job` is a job row (ORM object or Core row): its type, project, actor, attempt and
    trace id go with the event. An event about no job yet (a refused submission) names
    its `project`, `actor` and `job_type` itself; one about something a job made (an
    artifact) may name that `job_id`, so `/events?job_id=` finds it.
    """
    event = {"type": event_type, "at": utcnow(), "tenant": tenant, "project": project,
             "actor": actor, "job_id": job_id, "job_type": job_type, "attempt": None,
             "max_retries": None, "trace_id": None}
    if job is not None:
        event.update(project=job.project, actor=job.actor, job_id=job.id,
                     job_type=job.job_type, attempt=job.attempts,
                     max_retries=job.max_retries, trace_id=job.trace_id)
        data.setdefault("log", f"/jobs/{job.id}/logs")
    session.execute(insert(GovernanceEvent.__table__), [dict(event, data=data)])
    session.info.setdefault(UNLOGGED, []).append((event, data))


@sqlalchemy.event.listens_for(Session, "after_commit")
def _log_committed(session) -> None:
    """Each stored event as one JSON log line, once its transaction has committed."""
    for event, data in session.info.pop(UNLOGGED, ()):
        warn = event["type"].endswith(("failed", "exceeded", "warning", "exhausted"))
        record = {"event": event["type"], **{k: v for k, v in event.items() if k != "type"},
                  "at": event["at"].isoformat(), **data}
        logger.log(logging.WARNING if warn else logging.INFO, json.dumps(record, default=str))


@sqlalchemy.event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session) -> None:
    """Events of a rolled-back transaction were never stored: they are not logged either."""
    session.info.pop(UNLOGGED, None)


def emit_for_job_status(session, job, **data) -> None:
    """The governance event that goes with `job` having just entered its current status."""
    emit(session, JOB_STATUS_EVENTS[job.status], tenant=job.tenant, job=job, **data)
    job_telemetry.observe(session, job)


def list_events(session, tenant: str, *, filters: dict, cursor: str | None, limit: int) -> Page:
    """The tenant's governance events, newest first, filtered by type, job_id and since."""
    stmt = narrow(select(GovernanceEvent).where(GovernanceEvent.tenant == tenant),
                  GovernanceEvent, filters, ("type", "job_id"), GovernanceEvent.at)
    return paginate(session, stmt, (GovernanceEvent.id,), cursor, limit)
