"""Readiness kept fresh in the background, so `/readyz` answers from memory at once.

Each app checks its dependencies (database, broker, workers, object store, queue depth,
slow requests) in a thread of its own, again every `TASKPLANE_READINESS_INTERVAL_SECONDS`.
A probe reads the last round and how old each check is; a check older than
`TASKPLANE_READINESS_MAX_AGE_SECONDS` (a hung round) makes the app not ready, as does a
round that has not finished yet. gunicorn starts the thread as a worker boots; any other
server, on the first probe.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from flask import Flask, current_app

from app.extensions import db, runtime, runtime_of
from app.services import health

FIRST_ROUND = "readiness: the first checks have not finished yet"


class ReadinessMonitor:
    """One app's dependency checks, run again and again in a daemon thread."""

    def __init__(self, app: Flask):
        self._app = app
        self._lock = threading.Lock()
        self._last: tuple[dict, dict, dict] | None = None  # checks, queue depth, slow requests
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Run the checks in the background, unless they already run."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and not self._stop.is_set():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                            name="taskplane-readiness", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """End the thread after its current round; it closes the app's database pool."""
        self._stop.set()

    def refresh(self) -> None:
        """Check every dependency now and keep what was found."""
        checks, depth = health.dependencies()
        slow = health.slow_requests_seen()
        with self._lock:
            self._last = (checks, depth, slow)

    def report(self) -> dict:
        """The last round's report, each check with its age; not ready when one is too old."""
        with self._lock:
            last = self._last
        if last is None:
            return health.summary({}, {}, {}, (FIRST_ROUND,))
        checks, depth, slow = last
        now, limit = datetime.now(UTC), runtime.settings.readiness_max_age_seconds
        aged, stale = {}, []
        for name, check in checks.items():
            age = (now - datetime.fromisoformat(check["checked_at"])).total_seconds()
            aged[name] = dict(check, age_seconds=round(age, 3))
            if age > limit:
                stale.append(f"{name}: last checked {age:.0f} s ago (more than {limit:g} s)")
        return health.summary(aged, depth, slow, tuple(stale))

    def _run(self, stop: threading.Event) -> None:
        with self._app.app_context():
            try:
                while not stop.is_set():
                    try:
                        self.refresh()
                    finally:
                        db.session.remove()  # a round holds no connection while it waits
                    stop.wait(runtime.settings.readiness_interval_seconds)
            finally:
                runtime_of(self._app).db.close()


def monitor() -> ReadinessMonitor:
    """The current app's monitor, running."""
    found = runtime.own("readiness", lambda: ReadinessMonitor(current_app._get_current_object()))
    found.start()
    return found


def report() -> dict:
    """Whether the current app is ready, from the last background round (answers at once)."""
    return monitor().report()
