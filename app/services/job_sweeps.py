"""Jobs from the sweeper's side: end lapsed attempts, publish again what lost its message."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import false, select, update

from app.db import utcnow
from app.extensions import db, runtime
from app.models import Job, JobState
from app.services import dispatch
from app.services.job_transitions import lapsed, publish, settle_lapsed


def _lost_messages(now: dt.datetime, grace: dt.timedelta):
    """Jobs of a drained queue dispatched a while ago: no message of theirs is waiting."""
    try:
        depths = dispatch.queue_depths()
    except Exception:  # noqa: BLE001 - broker down: nothing can be told, or published
        return false()
    names = [spec.name for spec in runtime.catalog.values() if depths.get(spec.queue, 1) == 0]
    return (Job.dispatched_at < now - grace) & Job.job_type.in_(names)


def _stalled(now: dt.datetime, grace: dt.timedelta):
    """Jobs whose message may be gone and that no publish has answered yet.

    Each stall is answered once: a publish moves `dispatched_at` past the moment the job
    stalled (its lease lapsed, its retry fell due), which ends the match; only a job
    whose queue has drained since (its message is surely gone) matches again.
    """
    lost = _lost_messages(now, grace)
    unanswered = Job.dispatched_at.is_(None)
    return (
        ((Job.status == JobState.QUEUED)
         & ((unanswered & (Job.created_at < now - grace)) | lost))
        | (lapsed(now - grace) & Job.cancel_requested.is_(False)
           & (Job.attempts <= Job.max_retries)
           & (unanswered | (Job.dispatched_at < Job.lease_expires_at) | lost))
        | ((Job.status == JobState.RETRYING) & (Job.retry_at < now - grace)
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
    abandoned = select(Job).where(lapsed(now), Job.cancel_requested.is_(True)
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
