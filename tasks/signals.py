"""Celery signals → Taskplane: fresh connections per worker process, failures Celery saw first."""

from __future__ import annotations

import json
import logging

from billiard.exceptions import WorkerLostError
from celery import signals
from celery.exceptions import Reject
from celery.worker.request import Request

from app.errors import DATABASE_OUTAGES
from app.extensions import db
from app.services import job_runs

logger = logging.getLogger("taskplane.signals")


@signals.worker_process_init.connect
def dispose_engine(**_kwargs) -> None:
    """A forked pool process must not reuse its parent's database connections."""
    db.dispose()


def _is_job_task(sender) -> bool:
    return getattr(sender, "name", "").startswith("taskplane.job.")


@signals.task_failure.connect
def record_failure(sender=None, task_id=None, exception=None, **_kwargs) -> None:
    """A final failure Celery saw (e.g. the hard time limit killed the process): mark failed.

    A `Reject` is Celery failing to send a retry's message (the broker is down): the
    attempt is already recorded as retrying, and the sweeper sends it once it is due.
    """
    if not _is_job_task(sender) or isinstance(exception, Reject):
        return
    try:
        error = {"type": type(exception).__name__, "message": str(exception) or "failed"}
        job_runs.fail(task_id, error, None)
    finally:
        db.release()


@signals.task_retry.connect
def log_retry(sender=None, request=None, reason=None, **_kwargs) -> None:
    """Each retry Celery schedules, in the structured log."""
    if _is_job_task(sender):
        logger.warning(json.dumps({"event": "celery_task_retry", "job_id": request.id,
                                   "task": sender.name, "retries": request.retries,
                                   "reason": str(reason)}))


class JobRequest(Request):
    """A job task's request in the worker's main process.

    When the pool process running it dies (SIGKILL, out of memory), the attempt's lease
    ends at once, before Celery requeues the message: the next delivery then counts the
    lost attempt at claim (and ends the job `worker_lost` past its budget) instead of
    finding a live lease nobody renews.
    """

    def on_failure(self, exc_info, send_failed_event=True, return_ok=False):
        """Lapse the lease of an attempt whose process was lost, then let Celery go on."""
        exc = getattr(exc_info.exception, "exc", exc_info.exception)
        if isinstance(exc, WorkerLostError):
            try:
                job_runs.lapse(self.id, self.hostname)
            except DATABASE_OUTAGES:  # the lease then lapses by itself
                logger.exception("could not end the lease of job %s", self.id)
            finally:
                db.release()
        return super().on_failure(exc_info, send_failed_event, return_ok)
