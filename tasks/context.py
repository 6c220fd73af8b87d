"""`ctx`, the handle a job handler gets: logs, progress, cancel and who the job is for.

Its log lines and progress are buffered and stored by the process's heartbeat thread
(`tasks.attempt_writes`): a chatty or a short job does not pay one database
transaction per line, and a database outage neither blocks the handler nor raises into
it. An artifact is stored at once (the handler gets its id), tried again through an
outage while the attempt's lease holds.
"""

from __future__ import annotations

import json
import logging
import threading

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from app.errors import DATABASE_OUTAGES
from app.extensions import db, runtime
from app.services import artifacts, job_runs
from tasks.attempt_writes import HEARTBEATS, AttemptWrites
from tasks.errors import AttemptLost, JobCancelled

logger = logging.getLogger("taskplane.job")


class JobContext:
    """What a running handler may know and do: `log`, `progress`, `add_artifact`, `cancelled`."""

    def __init__(self, job, lease_seconds: float, heartbeat_seconds: float,
                 buffer_lines: int = 10000):
        self.job_id = job.id
        self.job_type = job.job_type
        self.tenant = job.tenant
        self.project = job.project
        self.actor = job.actor
        self.attempt = job.attempts
        self.max_retries = job.max_retries
        self.trace_id = job.trace_id
        self.payload = job.payload
        self.lease_seconds = lease_seconds
        self._cancel = threading.Event()
        self._on_cancel = []
        self.writes = AttemptWrites(job.id, job.attempts, lease_seconds=lease_seconds,
                                    heartbeat_seconds=heartbeat_seconds,
                                    max_lines=buffer_lines, on_lost=self.stop)

    # -- for handlers ----------------------------------------------------------------------

    def log(self, message: str, *, level: str = "info", **fields) -> None:
        """Write a log line; keyword fields make it a JSON line with tenant, project, job id."""
        self.check_cancelled()
        self.write_log(message, level=level, **fields)

    def progress(self, fraction: float, step: str | None = None) -> None:
        """Report progress between 0 and 1, with the step being worked on."""
        self.check_cancelled()
        self.writes.set_progress(job_runs.progress_values(fraction, step))

    def add_artifact(self, name: str, path_or_bytes, type: str = "output",
                     content_type: str | None = None, read_permission: str | None = None) -> dict:
        """Store bytes or a file as an artifact of this job; returns its id, digest, size."""
        self.check_cancelled()
        for attempt in self._outage_retrying("storing artifact " + repr(name),
                                             stop=self._lease_lost):
            with attempt:
                artifact = artifacts.add_job_artifact(self, name, path_or_bytes, type,
                                                      content_type, read_permission)
        return {"id": artifact.id, "name": artifact.name, "digest": artifact.digest,
                "size": artifact.size, "version": artifact.version}

    def cancelled(self) -> bool:
        """Whether the job was asked to stop (handlers that loop should check this)."""
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise `JobCancelled` once the job was asked to stop (`AttemptLost` once it is lost)."""
        if self._cancel.is_set():
            raise AttemptLost(self.job_id) if self.writes.lost else JobCancelled(self.job_id)

    # -- for runners -----------------------------------------------------------------------

    def write_log(self, message: str, *, level: str = "info", stream: str = "log",
                  **fields) -> None:
        """Buffer a log line even after cancel (command output, the runner's own notes)."""
        if fields:
            message = json.dumps({"msg": message, "level": level, "tenant": self.tenant,
                                  "project": self.project, "job_id": self.job_id,
                                  "job_type": self.job_type, "attempt": self.attempt,
                                  "trace_id": self.trace_id, **fields}, default=str)
        self.writes.add_log(job_runs.log_entry(self.job_id, self.attempt, message,
                                               stream=stream, level=level))

    def finish(self, end, *args, **kwargs):
        """Run the attempt's final status change `end`, storing the buffered writes with it.

        A database outage does not lose a finished attempt's outcome (a redelivery would
        run the work again): the write is tried again with backoff for up to
        `outcome_retry_seconds`, while the heartbeat keeps the lease alive. Past that the
        attempt is lost (`AttemptLost`).
        """
        try:
            if self.writes.lost:  # the handler returned after its attempt was lost
                raise AttemptLost(self.job_id)
            self.writes.finishing = True
            with self.writes.storing():
                logs, progress = self.writes.take()
                stop = stop_after_delay(runtime.settings.outcome_retry_seconds)
                for attempt in self._outage_retrying("recording the outcome", stop=stop):
                    with attempt:
                        job_runs.store_writes(self.job_id, self.attempt, (), progress,
                                              commit=False)
                        return end(*args, logs=logs, **kwargs)
        finally:
            HEARTBEATS.remove(self)

    def on_cancel(self, callback) -> None:
        """Call `callback` when cancel is asked (from the heartbeat thread)."""
        self._on_cancel.append(callback)
        if self._cancel.is_set():
            callback()

    def stop(self) -> None:
        """Mark the attempt as asked to stop and run the cancel callbacks."""
        self._cancel.set()
        for callback in self._on_cancel:
            callback()

    def beat(self) -> None:
        """Renew the lease; stop the attempt when cancel was asked or the lease was lost."""
        wanted = job_runs.heartbeat(self.job_id, self.attempt, self.lease_seconds)
        if (wanted is None or wanted) and not self._cancel.is_set():
            self.stop()

    def abandon(self) -> int:
        """Stop the attempt as lost: drop its unstored writes; how many log lines they held."""
        HEARTBEATS.remove(self)
        if not self.writes.lost:
            self.writes.lose()
        return self.writes.drop()

    def _lease_lost(self, _state=None) -> bool:
        return self.writes.lost

    def _outage_retrying(self, what: str, stop) -> Retrying:
        """Tries of a write that met a database outage, until `stop`; then `AttemptLost`."""
        def rolled_back(state) -> None:
            db.release()
            if state.attempt_number == 1:  # one line per outage, not one per try
                logger.warning("%s of job %s failed (%s); trying again", what, self.job_id,
                               type(state.outcome.exception()).__name__)

        def given_up(state):
            db.release()
            raise AttemptLost(self.job_id) from state.outcome.exception()

        return Retrying(retry=retry_if_exception_type(DATABASE_OUTAGES), stop=stop,
                        wait=wait_exponential_jitter(initial=0.1, max=2.0),
                        before_sleep=rolled_back, retry_error_callback=given_up)

    def __enter__(self):
        HEARTBEATS.add(self)
        return self

    def __exit__(self, *_exc):
        HEARTBEATS.remove(self)
