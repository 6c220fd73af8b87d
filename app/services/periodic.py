"""Periodic work done once per interval, however many beat processes schedule it.

Beat has no lock of its own: two beats (a second one started by mistake, or one per
host) each send every periodic task on their own clock, and without a guard each sweep
runs twice, re-publishing every stalled job twice. Each periodic task therefore claims
its run in the database every host shares, whatever the broker: one row per task name,
taken with a compare-and-set on its last run time. A run starts only when the last one
started at least `SPACING` of the interval ago; the other beat's message of the same
interval finds the claim taken and returns `{"skipped": ...}` without doing anything.

A database outage costs a run, nothing more: the task returns `{"skipped": ...}` with
one warning line, and the next interval's run does the work (each run is idempotent).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

from celery import current_task
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.errors import DATABASE_OUTAGES
from app.extensions import celery_app, db
from app.models import PeriodicRun

logger = logging.getLogger("taskplane.periodic")

# A share of the interval, not all of it: one beat's ticks arrive a little early or late
# (and a message may wait in its queue), and must not skip their own turn.
SPACING = 0.75


def claim(name: str, interval: float, by: str = "", now: dt.datetime | None = None) -> bool:
    """Take this interval's run of `name`; False when a run started less than SPACING ago."""
    now = now or utcnow()
    due = now - dt.timedelta(seconds=interval * SPACING)
    taken = db.session.execute(
        update(PeriodicRun).where(PeriodicRun.name == name, PeriodicRun.last_run_at <= due)
        .values(last_run_at=now, last_run_by=by)
        .execution_options(synchronize_session=False)).rowcount
    if taken:
        db.session.commit()
        return True
    db.session.rollback()
    if db.session.get(PeriodicRun, name) is not None:
        db.session.rollback()
        return False
    db.session.add(PeriodicRun(name=name, last_run_at=now, last_run_by=by))  # first run ever
    try:
        db.session.commit()
    except IntegrityError:  # another host's first run got there first
        db.session.rollback()
        return False
    return True


def scheduled_interval(task_name: str) -> float:
    """Seconds between the beat schedule's runs of `task_name` (0 when it is not scheduled)."""
    for entry in celery_app.conf.beat_schedule.values():
        if entry["task"] == task_name:
            return float(entry["schedule"])
    return 0.0


def once_per_interval(body):
    """Make a periodic task's body run only when its run of this interval is claimed."""

    @functools.wraps(body)
    def guarded(*args, **kwargs):
        task = current_task
        if task is None or task.request.called_directly:  # called as a function: just run
            return body(*args, **kwargs)
        try:
            return _run_claimed(task, body, *args, **kwargs)
        except DATABASE_OUTAGES as exc:
            db.release()
            logger.warning("%s skipped: the database does not answer (%s)", task.name,
                           type(exc).__name__)
            return {"skipped": "database unavailable"}

    return guarded


def _run_claimed(task, body, *args, **kwargs):
    """Run `body` when this interval's run of `task` is claimed, else say who ran it."""
    if not claim(task.name, scheduled_interval(task.name), by=task.request.hostname or ""):
        run = db.session.get(PeriodicRun, task.name)
        last = f"ran at {run.last_run_at.isoformat()} on {run.last_run_by}"
        db.session.rollback()
        logger.info("%s skipped: %s", task.name, last)
        return {"skipped": last}
    return body(*args, **kwargs)
