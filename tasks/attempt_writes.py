"""What a running attempt writes through its context, buffered and retried across a
database outage: its log lines, its progress and current step, and its lease.

A handler never waits on the database for these and never sees its errors: `ctx.log`
and `ctx.progress` only add to the attempt's buffer. The process's heartbeat thread
stores the buffer in order, one transaction at a time (at most `FLUSH_SECONDS` late, at
once past `FLUSH_LINES`), renews the lease, and stores what is left with the attempt's
final status change. When the database does not answer, the thread keeps the writes and
tries again with backoff. The bounds:

- memory: at most `TASKPLANE_JOB_BUFFER_LINES` unstored lines per attempt; past it the
  next line waits for room (a command's output then waits in its pipe);
- time: the lease. When the outage outlasts it (the heartbeat cannot renew it before it
  lapses), the attempt is lost: its handler is stopped, its buffered writes dropped, and
  its message comes back once the lease has lapsed, as for a worker lost (see
  `tasks.runner`).

Lines still buffered when the process itself dies are lost with it (at most
`FLUSH_SECONDS` of them, or an outage's worth); the attempt is then a worker lost.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time

from app.errors import DATABASE_OUTAGES
from app.extensions import db
from app.services import job_runs

logger = logging.getLogger("taskplane.job")

FLUSH_SECONDS = 0.2
FLUSH_LINES = 200
RETRY_MAX_SECONDS = 1.0  # the longest pause between two tries of a write during an outage


class AttemptWrites:
    """The unstored writes of one running attempt, and the state of its lease."""

    def __init__(self, job_id: str, attempt: int, *, lease_seconds: float,
                 heartbeat_seconds: float, max_lines: int, on_lost):
        self.job_id = job_id
        self.on_lost = on_lost  # stops the handler (a command's process group is killed)
        self.attempt = attempt
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.max_lines = max_lines
        now = time.monotonic()
        self.lease_until = now + lease_seconds  # renewed by each heartbeat that is stored
        self.next_beat = now + heartbeat_seconds
        self.lost = False
        self.finishing = False  # the outcome is being written: bounded by its own retry time
        self._logs: list[dict] = []
        self._progress: dict | None = None
        self._since: float | None = None  # when the oldest unstored write was made
        self._room = threading.Condition()
        self._store_lock = threading.Lock()  # one store at a time keeps log ids in order
        self._failures = 0  # failed tries in a row: the database does not answer
        self._retry_at = 0.0

    def add_log(self, entry: dict) -> None:
        """Buffer a log line; waits while the buffer is full (dropped once the attempt is lost)."""
        with self._room:
            while len(self._logs) >= self.max_lines and not self.lost:
                HEARTBEATS.wake()
                self._room.wait(0.1)
            if self.lost:
                return
            self._logs.append(entry)
            if self._since is None:
                self._since = time.monotonic()
            full = len(self._logs) >= FLUSH_LINES
        if full:
            HEARTBEATS.wake()

    def set_progress(self, values: dict) -> None:
        """Buffer the attempt's progress; only the latest is stored."""
        with self._room:
            self._progress = {**(self._progress or {}), **values}
            if self._since is None:
                self._since = time.monotonic()

    def take(self) -> tuple[list[dict], dict | None]:
        """Everything unstored, removed from the buffer (the attempt's end stores it)."""
        with self._room:
            logs, progress = self._logs, self._progress
            self._logs, self._progress, self._since = [], None, None
            self._room.notify_all()
        return logs, progress

    def store(self) -> None:
        """Store what is buffered in one transaction; on an outage it stays for the next try."""
        if not self._store_lock.acquire(blocking=False):  # the attempt's end is storing
            return
        try:
            with self._room:
                logs, progress = list(self._logs), self._progress
            if not logs and progress is None:
                return
            try:
                job_runs.store_writes(self.job_id, self.attempt, logs, progress)
            except DATABASE_OUTAGES:
                raise
            except Exception:  # the writes themselves are refused: trying again cannot help
                db.release()
                logger.exception("job %s attempt %s: %d log lines refused by the database "
                                 "are dropped", self.job_id, self.attempt, len(logs))
            with self._room:
                del self._logs[:len(logs)]
                if self._progress is progress:
                    self._progress = None
                self._since = time.monotonic() if self._logs or self._progress else None
                self._room.notify_all()
        finally:
            self._store_lock.release()

    def storing(self):
        """Hold off the heartbeat thread's stores while the attempt's end is written."""
        return self._store_lock

    def tick(self, now: float, beat) -> None:
        """The heartbeat thread's turn: store what is due, call `beat` when due, watch the lease."""
        if self.lost:
            return
        # Lost once the lease would lapse before one more heartbeat could renew it.
        if (self._failures and not self.finishing
                and now + self.heartbeat_seconds >= self.lease_until):
            self.lose()
            return
        with self._room:
            due = self._since is not None and (now - self._since >= FLUSH_SECONDS
                                               or len(self._logs) >= FLUSH_LINES)
        beat_due = now >= self.next_beat
        if now < self._retry_at or not (due or beat_due):
            return
        try:
            if due:
                self.store()
            if beat_due:
                started = time.monotonic()  # before the lease's own clock reading
                self.next_beat = started + self.heartbeat_seconds
                beat()
                self.lease_until = started + self.lease_seconds
        except DATABASE_OUTAGES as exc:
            db.release()
            self._failed(exc)
            return
        except Exception:  # not an outage: a fault worth its traceback, tried again later
            db.release()
            logger.exception("job %s attempt %s: storing its writes failed", self.job_id,
                             self.attempt)
            self._retry_at = time.monotonic() + RETRY_MAX_SECONDS
            return
        if self._failures:
            logger.info("job %s attempt %s: the database answers again after %d tries; its "
                        "buffered writes are stored", self.job_id, self.attempt, self._failures)
            self._failures = 0

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        if self._failures == 1:
            logger.warning("job %s attempt %s: the database does not answer (%s); its writes "
                           "are kept and tried again", self.job_id, self.attempt,
                           type(exc).__name__)
        pause = min(RETRY_MAX_SECONDS, 0.05 * 2 ** self._failures)
        self._retry_at = time.monotonic() + random.uniform(pause / 2, pause)

    def lease_left(self) -> float:
        """Seconds until the lease, as last renewed, lapses (0 once it has)."""
        return max(0.0, self.lease_until - time.monotonic())

    def lose(self) -> None:
        """Mark the attempt lost: its handler stops at its next call on `ctx`."""
        with self._room:
            self.lost = True
            self._room.notify_all()
        logger.warning("job %s attempt %s is lost: its lease could not be renewed through a "
                       "database outage", self.job_id, self.attempt)
        self.on_lost()

    def drop(self) -> int:
        """Forget the unstored writes of a lost attempt; how many log lines they held."""
        logs, _progress = self.take()
        return len(logs)


class Heartbeats:
    """The one thread per worker process that stores its running attempts' writes and
    keeps their leases alive."""

    TICK_SECONDS = 0.05

    def __init__(self):
        self._active: dict[int, object] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = None

    def add(self, ctx) -> None:
        """Watch `ctx` (a `JobContext`) until `remove`; starts the thread in this process."""
        with self._lock:
            self._active[id(ctx)] = ctx
            if self._pid != os.getpid():  # first use, or a fresh fork
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="taskplane-heartbeat",
                                 daemon=True).start()

    def remove(self, ctx) -> None:
        """Stop watching `ctx`."""
        with self._lock:
            self._active.pop(id(ctx), None)

    def wake(self) -> None:
        """Have the thread take its next turn now (a buffer is full)."""
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.TICK_SECONDS)
            self._wake.clear()
            with self._lock:
                watched = list(self._active.values())
            for ctx in watched:
                try:
                    ctx.writes.tick(time.monotonic(), ctx.beat)
                except Exception:  # e.g. a cancel callback: the thread must outlive it
                    logger.exception("heartbeat of job %s failed", ctx.job_id)
                    db.release()


HEARTBEATS = Heartbeats()
