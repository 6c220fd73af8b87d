"""A job's log lines and what happens to it while it runs: what log pages, log follows
and event streams show.

The API only renders what `log_page()` and `follow()` give it. Between polls the
session holds no database connection, so an idle stream costs a thread but no pool
connection. Each process serves at most `stream_slots` streams at once
(`slots().acquire()`, `app.services.slots`), so the web server's threads beyond them
always remain for other requests. A submit that waits for its job's end (`Prefer: wait`)
holds a slot too, and sleeps on the job's end notice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

from app.errors import Unavailable
from app.extensions import db, runtime
from app.models import Job, JobLog
from app.models.jobs import TERMINAL
from app.services import job_ends, jobs
from app.services.slots import Slots, streams

BATCH = 500


def slots() -> Slots:
    """The current app's stream slots (`app.services.slots`)."""
    return streams()


def follow(job_id: str, since: int, with_job: bool = True,
           max_seconds: float | None = None) -> Iterator[tuple[str, object]]:
    """Yield what happens to a job from log cursor `since` on, as `(kind, item)` pairs.

    `("job", job)` when its status, progress or step changes (first at once; only when
    `with_job`); `("log", entry)` for each new log line; `("keepalive", None)` every
    `stream_keepalive_seconds`; and last `("end", "terminal")` once the job has ended and
    every line is out, or `("end", "lifetime")` after `stream_max_seconds` (the client
    resumes from its cursor), or after `max_seconds` when that is shorter (a long poll).
    Polls slow down while nothing changes.
    """
    settings = runtime.settings
    start = time.monotonic()
    deadline = start + min(settings.stream_max_seconds, max_seconds or math.inf)
    cursor, last_state, last_keepalive = since, None, start
    poll = settings.log_follow_poll_seconds
    while True:
        job = db.session.get(Job, job_id, populate_existing=True)
        changed = False
        state = (job.status, job.progress, job.current_step, job.attempts)
        if with_job and state != last_state:
            last_state, changed = state, True
            yield "job", job
        for entry in _logs_after(job, cursor):
            cursor, changed = entry.id, True
            yield "log", entry
        if job.status in TERMINAL:
            yield "end", "terminal"
            return
        db.session.rollback()  # ends the read: the connection goes back to the pool while idle
        now = time.monotonic()
        if now >= deadline:
            yield "end", "lifetime"
            return
        if now - last_keepalive >= settings.stream_keepalive_seconds:
            last_keepalive = now
            yield "keepalive", None
        poll = (settings.log_follow_poll_seconds if changed
                else min(poll * 2, settings.log_follow_poll_max_seconds))
        time.sleep(max(0.0, min(poll, deadline - now)))


def log_page(job: Job, since: int, limit: int) -> tuple[list[JobLog], int]:
    """Up to `limit` log lines of `job` after cursor `since`, and the cursor that follows them."""
    entries = jobs.logs(job, since, limit)
    return entries, entries[-1].id if entries else since


def _logs_after(job: Job, cursor: int):
    """Every log entry of `job` after `cursor`, fetched in batches."""
    while True:
        entries = jobs.logs(job, cursor, BATCH)
        yield from entries
        if len(entries) < BATCH:
            return
        cursor = entries[-1].id


def wait_for_end(job: Job, seconds: float) -> Job:
    """The job once it has ended, or as it is after `seconds`; woken by its end's notice.

    The wait holds one of the process's stream slots; when none is free it does not wait.
    """
    try:
        release = slots().acquire()
    except Unavailable:
        return job
    try:
        with job_ends.EndWatch(job.id) as watch:  # subscribed before the read: no end missed
            job = db.session.get(Job, job.id, populate_existing=True)
            if job.status in TERMINAL:
                return job
            db.session.rollback()  # no transaction (nor pool connection) held while waiting
            watch.wait(seconds)
        return jobs.refresh(job)
    finally:
        release()
