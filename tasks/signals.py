"""Celery signals → Taskplane: fresh connections per worker process, failures Celery saw first."""

from __future__ import annotations

import json
import logging

from celery import signals

from app.extensions import db
from app.services import jobs

logger = logging.getLogger("taskplane.signals")


@signals.worker_process_init.connect
def dispose_engine(**_kwargs) -> None:
    """A forked pool process must not reuse its parent's database connections."""
    db.dispose()


def _is_job_task(sender) -> bool:
    return getattr(sender, "name", "").startswith("taskplane.job.")


@signals.task_failure.connect
def record_failure(sender=None, task_id=None, exception=None, **_kwargs) -> None:
    """A final failure Celery saw (e.g. the hard time limit killed the process): mark failed."""
    if not _is_job_task(sender):
        return
    try:
        error = {"type": type(exception).__name__, "message": str(exception) or "failed"}
        jobs.fail(task_id, error, None)
    finally:
        db.session.remove()


@signals.task_retry.connect
def log_retry(sender=None, request=None, reason=None, **_kwargs) -> None:
    """Each retry Celery schedules, in the structured log."""
    if _is_job_task(sender):
        logger.warning(json.dumps({"event": "celery_task_retry", "job_id": request.id,
                                   "task": sender.name, "retries": request.retries,
                                   "reason": str(reason)}))
