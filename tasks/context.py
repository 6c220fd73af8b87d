"""`ctx`, the handle a job handler gets: logs, progress, cancel and who the job is for.

Log lines are buffered and stored in batches (at most `LOG_FLUSH_SECONDS` late, and
with the attempt's final status change at the end), so a chatty or a short job does
not pay one database transaction per line. One heartbeat thread per worker process
renews the leases of the attempts it runs, flushes their logs and notices cancel
requests.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from app.errors import DATABASE_OUTAGES
from app.extensions import db, runtime
from app.services import artifacts, job_runs
from tasks.errors import JobCancelled

logger = logging.getLogger("taskplane.job")

LOG_FLUSH_SECONDS = 0.2
LOG_FLUSH_LINES = 200


class JobContext:
    """What a running handler may know and do: `log`, `progress`, `add_artifact`, `cancelled`."""

    def __init__(self, job, lease_seconds: float, heartbeat_seconds: float):
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
        self.heartbeat_seconds = heartbeat_seconds
        self.next_beat = time.monotonic() + heartbeat_seconds
        self._cancel = threading.Event()
        self._on_cancel = []
        self._logs = []
        self._logs_since = None
        self._lock = threading.Lock()
        self._store_lock = threading.Lock()  # one writer at a time keeps log ids in order

    # -- for handlers ----------------------------------------------------------------------

    def log(self, message: str, *, level: str = "info", **fields) -> None:
        """Write a log line; keyword fields make it a JSON line with tenant, project, job id."""
        self.check_cancelled()
        self.write_log(message, level=level, **fields)

    def progress(self, fraction: float, step: str | None = None) -> None:
        """Report progress between 0 and 1, with the step being worked on."""
        self.check_cancelled()
        self.flush_logs()
        job_runs.set_progress(self.job_id, self.attempt, fraction, step)

    def add_artifact(self, name: str, path_or_bytes, type: str = "output",
                     content_type: str | None = None, read_permission: str | None = None) -> dict:
        """Store bytes or a file as an artifact of this job; returns its id, digest, size."""
        self.check_cancelled()
        artifact = artifacts.add_job_artifact(self, name, path_or_bytes, type, content_type,
                                              read_permission)
        return {"id": artifact.id, "name": artifact.name, "digest": artifact.digest,
                "size": artifact.size, "version": artifact.version}

    def cancelled(self) -> bool:
        """Whether the job was asked to stop (handlers that loop should check this)."""
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise `JobCancelled` once the job was asked to stop."""
        if self._cancel.is_set():
            raise JobCancelled(self.job_id)

    # -- for runners -----------------------------------------------------------------------

    def write_log(self, message: str, *, level: str = "info", stream: str = "log",
                  **fields) -> None:
        """Buffer a log line even after cancel (command output, the runner's own notes)."""
        if fields:
            message = json.dumps({"msg": message, "level": level, "tenant": self.tenant,
                                  "project": self.project, "job_id": self.job_id,
                                  "job_type": self.job_type, "attempt": self.attempt,
                                  "trace_id": self.trace_id, **fields}, default=str)
        entry = job_runs.log_entry(self.job_id, self.attempt, message, stream=stream, level=level)
        with self._lock:
            self._logs.append(entry)
            if self._logs_since is None:
                self._logs_since = time.monotonic()
            full = len(self._logs) >= LOG_FLUSH_LINES
        if full:
            self.flush_logs()

    def _take_logs(self) -> list:
        with self._lock:
            entries, self._logs, self._logs_since = self._logs, [], None
        return entries

    def flush_logs(self, older_than: float = 0.0) -> None:
        """Store the buffered lines now (or only when the oldest is `older_than` seconds old)."""
        with self._lock:
            since = self._logs_since
        if since is None or time.monotonic() - since < older_than:
            return
        with self._store_lock:
            entries = self._take_logs()
            if entries:
                job_runs.store_logs(entries)

    def finish(self, end, *args, **kwargs):
        """Run the attempt's final status change `end`, storing the buffered lines with it.

        A database outage does not lose a finished attempt's outcome (a redelivery would
        run the work again): the write is tried again with backoff for up to
        `outcome_retry_seconds`, while the heartbeat keeps the lease alive.
        """
        try:
            with self._store_lock:
                logs = self._take_logs()
                for attempt in _outcome_retrying(self.job_id):
                    with attempt:
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
        self.next_beat = time.monotonic() + self.heartbeat_seconds
        wanted = job_runs.heartbeat(self.job_id, self.attempt, self.lease_seconds)
        if (wanted is None or wanted) and not self._cancel.is_set():
            self.stop()

    def __enter__(self):
        HEARTBEATS.add(self)
        return self

    def __exit__(self, *_exc):
        HEARTBEATS.remove(self)


def _outcome_retrying(job_id: str) -> Retrying:
    """Bounded retries of an outcome write that met a database outage."""
    def rolled_back(state) -> None:
        db.release()
        logger.warning("recording the outcome of job %s failed (%s); trying again",
                       job_id, type(state.outcome.exception()).__name__)

    return Retrying(retry=retry_if_exception_type(DATABASE_OUTAGES),
                    stop=stop_after_delay(runtime.settings.outcome_retry_seconds),
                    wait=wait_exponential_jitter(initial=0.1, max=2.0), reraise=True,
                    before_sleep=rolled_back)


class Heartbeats:
    """The one thread per worker process that keeps its running attempts' leases alive."""

    TICK_SECONDS = 0.05

    def __init__(self):
        self._active: dict[int, JobContext] = {}
        self._lock = threading.Lock()
        self._pid = None

    def add(self, ctx: JobContext) -> None:
        """Watch `ctx` until `remove`; starts the thread in this process on first use."""
        with self._lock:
            self._active[id(ctx)] = ctx
            if self._pid != os.getpid():  # first use, or a fresh fork
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="taskplane-heartbeat",
                                 daemon=True).start()

    def remove(self, ctx: JobContext) -> None:
        """Stop watching `ctx`."""
        with self._lock:
            self._active.pop(id(ctx), None)

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK_SECONDS)
            with self._lock:
                watched = list(self._active.values())
            for ctx in watched:
                try:
                    ctx.flush_logs(older_than=LOG_FLUSH_SECONDS)
                    if time.monotonic() >= ctx.next_beat:
                        ctx.beat()
                except Exception:  # a missed beat is retried next tick
                    logger.exception("heartbeat of job %s failed", ctx.job_id)
                    db.release()


HEARTBEATS = Heartbeats()
