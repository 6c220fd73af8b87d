"""The one task body every job type runs: claim the job by id, run its handler, record the end.

One Celery task is registered per job type (name `taskplane.job.<type>`), carrying that
type's queue, retry policy and time limits; the message carries only the job id.
"""

from __future__ import annotations

import importlib
import json
import logging

from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval

from app.errors import DATABASE_OUTAGES
from app.extensions import db, runtime
from app.models import JobState
from app.services import job_runs
from tasks.command import run_command
from tasks.context import JobContext
from tasks.errors import AttemptLost, JobCancelled
from tasks.signals import JobRequest

logger = logging.getLogger("taskplane.runner")

CLAIM_RETRY_MAX_SECONDS = 30  # a claim that met a database outage is delivered again within


def import_string(dotted: str):
    """`package.module:attr` or `package.module.attr` → the object."""
    module, _, attr = dotted.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), attr)


def error_info(exc: BaseException, attempt: int) -> dict:
    """The `error` field of a job: exception type, message and attempt."""
    return {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__,
            "attempt": attempt}


def _json_result(value):
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"handler result is not JSON: {exc}") from exc


class JobExecutor:
    """Runs one delivery of one job's message from claim to recorded outcome."""

    def __init__(self, task, job_id: str):
        self.task = task
        self.job_id = job_id
        self.spec = runtime.catalog[task.job_type]
        self.settings = runtime.settings

    def run(self):
        """Claim, run, record. Returns a small JSON summary for Flower."""
        try:
            state, job = job_runs.claim(self.job_id, self.task.request.hostname or "worker",
                                    self.settings.job_lease_seconds)
        except DATABASE_OUTAGES as exc:
            # Not acked away: this delivery is replaced by one a little later.
            db.release()
            countdown = get_exponential_backoff_interval(
                1, self.task.request.retries, CLAIM_RETRY_MAX_SECONDS, full_jitter=True)
            logger.warning("claim of job %s failed (%s); delivering again in %ss",
                           self.job_id, type(exc).__name__, countdown)
            raise self.task.retry(exc=exc, countdown=countdown) from exc
        if state == "skip":
            return {"job_id": self.job_id, "outcome": "skipped",
                    "status": job.status if job else "missing"}
        with JobContext(job, self.settings.job_lease_seconds, self.settings.heartbeat_seconds,
                        self.settings.job_buffer_lines) as ctx:
            try:
                return self._attempt(ctx)
            except AttemptLost as lost:
                # As for a worker lost: nothing more is recorded, and the job's message
                # comes back once the lease has lapsed (a claim before would find it live
                # and drop the message); that claim counts this attempt against the budget.
                dropped = ctx.abandon()
                db.release()
                countdown = ctx.writes.lease_left() + self.settings.heartbeat_seconds + 1.0
                logger.warning("attempt %s of job %s is lost (%d buffered log lines dropped); "
                               "delivering it again in %.1fs", ctx.attempt, self.job_id,
                               dropped, countdown)
                raise self.task.retry(exc=lost, countdown=countdown) from None

    def _attempt(self, ctx: JobContext):
        try:
            value = _json_result(self._handle(ctx))
        except AttemptLost:
            raise
        except JobCancelled:
            ctx.finish(job_runs.finish_cancelled, self.job_id, ctx.attempt)
            return {"job_id": self.job_id, "outcome": JobState.CANCELLED}
        except SoftTimeLimitExceeded as exc:
            ctx.write_log(f"soft time limit of {self.spec.soft_time_limit}s exceeded",
                          level="error")
            ctx.finish(job_runs.fail, self.job_id, error_info(exc, ctx.attempt), ctx.attempt)
            raise
        except Exception as exc:
            retry_in = self._retry_in(exc, ctx)
            ctx.write_log(f"attempt {ctx.attempt} failed: {type(exc).__name__}: {exc}",
                          level="error")
            ctx.finish(job_runs.fail, self.job_id, error_info(exc, ctx.attempt), ctx.attempt,
                       retry_in=retry_in)
            if retry_in is None:
                raise
            raise self.task.retry(exc=exc, countdown=retry_in) from exc
        ctx.finish(job_runs.complete, self.job_id, ctx.attempt, value)
        return {"job_id": self.job_id, "outcome": JobState.COMPLETED}

    def _retry_in(self, exc: Exception, ctx: JobContext) -> float | None:
        """Seconds until the next attempt when `exc` is retryable and the budget allows one.

        The budget counts attempts, lost ones included, so it is the job's own count,
        not Celery's count of retries it sent.
        """
        if not isinstance(exc, self.task.retry_for) or ctx.attempt > ctx.max_retries:
            return None
        return get_exponential_backoff_interval(
            self.spec.retry_backoff, ctx.attempt - 1, self.spec.retry_backoff_max,
            full_jitter=self.spec.retry_jitter)

    def _handle(self, ctx: JobContext):
        if self.spec.command:
            return run_command(ctx, self.spec, ctx.payload)
        return import_string(self.spec.handler)(ctx, ctx.payload)


def register_job_tasks(celery_app, catalog) -> None:
    """Register one Celery task per job type, each with its own policy and limits."""
    for spec in catalog.values():

        def run_job(self, job_id: str):
            return JobExecutor(self, job_id).run()

        run_job.__name__ = f"run_{spec.name.replace('-', '_')}"
        run_job.__qualname__ = run_job.__name__
        celery_app.task(
            bind=True,
            name=spec.task_name,
            job_type=spec.name,
            queue=spec.queue,
            acks_late=True,
            reject_on_worker_lost=True,
            Request=JobRequest,
            # The runner retries within the job's own budget (`max_retries` on the job row,
            # lost attempts included); Celery only carries the delayed message.
            retry_for=tuple(import_string(name) for name in spec.retry_on),
            max_retries=None,
            soft_time_limit=spec.soft_time_limit,
            time_limit=spec.time_limit,
            ignore_result=True,
        )(run_job)
