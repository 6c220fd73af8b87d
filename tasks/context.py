"""`ctx`, the handle a job handler gets: logs, progress, cancel and who the job is for."""

from __future__ import annotations

import json
import logging
import threading

from app.services import jobs
from tasks.errors import JobCancelled

logger = logging.getLogger("taskplane.job")


class JobContext:
    """What a running handler may know and do: `log`, `progress`, `cancelled` and the job's ids."""

    def __init__(self, job, lease_seconds: float, heartbeat_seconds: float):
        self.job_id = job.id
        self.job_type = job.job_type
        self.tenant = job.tenant
        self.project = job.project
        self.actor = job.actor
        self.attempt = job.attempts
        self.payload = job.payload
        self._lease_seconds = lease_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._cancel = threading.Event()
        self._stop = threading.Event()
        self._on_cancel = []
        self._thread = None

    # -- for handlers ----------------------------------------------------------------------

    def log(self, message: str, *, level: str = "info", **fields) -> None:
        """Write a log line; keyword fields make it a JSON line with tenant, project, job id."""
        self.check_cancelled()
        self.write_log(message, level=level, **fields)

    def progress(self, fraction: float, step: str | None = None) -> None:
        """Report progress between 0 and 1, with the step being worked on."""
        self.check_cancelled()
        jobs.set_progress(self.job_id, self.attempt, fraction, step)

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
        """Store a log line even after cancel (command output, the runner's own notes)."""
        if fields:
            message = json.dumps({"msg": message, "level": level, "tenant": self.tenant,
                                  "project": self.project, "job_id": self.job_id,
                                  "job_type": self.job_type, "attempt": self.attempt,
                                  **fields}, default=str)
        jobs.append_log(self.job_id, self.attempt, message, stream=stream, level=level)

    def on_cancel(self, callback) -> None:
        """Call `callback` (once) when cancel is asked, from the heartbeat thread."""
        self._on_cancel.append(callback)
        if self._cancel.is_set():
            callback()

    def __enter__(self):
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.job_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join(timeout=self._heartbeat_seconds * 5)

    def _beat(self) -> None:
        """Extend the lease and watch for a cancel request until the attempt ends."""
        from app.extensions import db

        try:
            while not self._stop.wait(self._heartbeat_seconds):
                try:
                    wanted = jobs.heartbeat(self.job_id, self.attempt, self._lease_seconds)
                except Exception:
                    logger.exception("heartbeat of job %s failed", self.job_id)
                    db.session.rollback()
                    continue
                if wanted is None or wanted:  # None: the attempt is no longer ours
                    self._cancel.set()
                    for callback in self._on_cancel:
                        callback()
                    return
        finally:
            db.session.remove()
