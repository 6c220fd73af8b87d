"""Governance events: stored for `/events` and written to the structured log."""

from __future__ import annotations

import json
import logging

from sqlalchemy import insert, select

from app.db import log_after_commit, utcnow
from app.models import GovernanceEvent, JobState
from app.services import job_telemetry
from app.services.pagination import Page, narrow, paginate

logger = logging.getLogger("taskplane.events")

JOB_STATUS_EVENTS = {
    JobState.QUEUED: "service_job_enqueued",
    JobState.RUNNING: "service_job_started",
    JobState.RETRYING: "service_job_retried",
    JobState.COMPLETED: "service_job_completed",
    JobState.FAILED: "service_job_failed",
    JobState.CANCELLED: "service_job_cancelled",
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
    warn = event_type.endswith(("failed", "exceeded", "warning", "exhausted", "drift"))
    record = {"event": event_type, **{k: v for k, v in event.items() if k != "type"},
              "at": event["at"].isoformat(), **data}
    log_after_commit(session, logger, logging.WARNING if warn else logging.INFO,
                     json.dumps(record, default=str))


def emit_for_job_status(session, job, **data) -> None:
    """The governance event that goes with `job` having just entered its current status."""
    emit(session, JOB_STATUS_EVENTS[job.status], tenant=job.tenant, job=job, **data)
    job_telemetry.observe(session, job)


def list_events(session, *, filters: dict, cursor: str | None, limit: int) -> Page:
    """The tenant's governance events (`session` is tenant-scoped), newest first, filtered
    by type, job_id and since."""
    stmt = narrow(select(GovernanceEvent), GovernanceEvent, filters, ("type", "job_id"),
                  GovernanceEvent.at)
    return paginate(session, stmt, (GovernanceEvent.id,), cursor, limit)
