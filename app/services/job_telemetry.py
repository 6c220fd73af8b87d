"""Job status changes → metrics, the active span and the log context, once committed.

`events.emit_for_job_status` hands every status change here with the row it wrote; the
observations are made after the transaction commits (a rolled-back change counts for
nothing), in the process and the span that made the change.
"""

from __future__ import annotations

import sqlalchemy.event
from sqlalchemy.orm import Session

from app import logs, metrics, tracing
from app.models.jobs import JobState

PENDING = "taskplane.observed_jobs"  # session.info key: status changes awaiting their commit


def observe(session, job) -> None:
    """Remember that `job` (a row as written) entered its status in `session`'s transaction."""
    session.info.setdefault(PENDING, []).append(job)


@sqlalchemy.event.listens_for(Session, "after_commit")
def _observe_committed(session) -> None:
    for job in session.info.pop(PENDING, ()):
        metrics.observe_job(job)
        tracing.annotate(tenant=job.tenant, project=job.project, job_type=job.job_type,
                         job_id=job.id, attempt=job.attempts)
        if job.status == JobState.RUNNING:
            logs.note(job.id, attempt=job.attempts)


@sqlalchemy.event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session) -> None:
    session.info.pop(PENDING, None)
