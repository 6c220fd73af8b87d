"""What an app runs with, and the handles through which code reaches its own.

Each app the factory builds owns a `Runtime`: its settings, its job-type catalog, its
database handle and the Celery app it publishes with, kept in `app.extensions`. The
handles `runtime`, `db` and `celery_app` are proxies, as Flask's `current_app` is: in an
app context (every request, every task the worker runs) they are that app's own, so two
apps in one process never see each other's. Outside any app context (a worker's signal
handlers and threads) they are the process's own, which the worker entry point binds
once with `bind_process`. Nothing here reads the environment or connects at import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar, cast

from celery import Celery
from flask import Flask
from flask.globals import _cv_app  # the variable behind `current_app`: one lookup, no proxy
from werkzeug.local import LocalProxy

from app.db import Database
from config.catalog import JobType, build_catalog
from config.settings import Settings

EXTENSION = "taskplane"  # the key of an app's `Runtime` in `app.extensions`
T = TypeVar("T")


class Runtime:
    """The settings, job-type catalog, database and Celery app one app runs with."""

    def __init__(self, settings: Settings):
        import celeryconfig  # top-level module; read only once settings are known

        self.settings = settings
        self.catalog: dict[str, JobType] = build_catalog(settings.command_types_file)
        self.db = Database(settings.database_url, settings.sqlite_busy_timeout_seconds)
        # Not made Celery's current app: building an app must not redirect another's tasks.
        self.celery = Celery("taskplane", set_as_current=False)
        self.celery.config_from_object(celeryconfig.build(settings, self.catalog))
        self._own: dict[str, object] = {}
        self._own_lock = threading.Lock()

    def own(self, key: str, build: Callable[[], T]) -> T:
        """This app's own `key` helper (stream slots, a cached probe…), built on first use.

        What a service keeps for the life of the process lives here, not in a module
        global, so two apps in one process never share it.
        """
        try:
            return self._own[key]  # type: ignore[return-value]
        except KeyError:
            with self._own_lock:
                return self._own.setdefault(key, build())  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the helpers that run in the background; close the database and broker pools."""
        for helper in list(self._own.values()):
            stop = getattr(helper, "stop", None)
            if stop is not None:
                stop()
        self.db.close()
        self.celery.close()


_process: Runtime | None = None  # used outside any app context; see `bind_process`


def runtime_of(app: Flask) -> Runtime:
    """The runtime `app` owns (the factory put it there)."""
    return app.extensions[EXTENSION]


def bind_process(app: Flask) -> None:
    """Make `app`'s runtime the one this process uses outside any app context.

    The worker entry point calls it once: a worker's signal handlers and heartbeat
    thread run outside the app context its tasks run in. A web process needs none.
    """
    global _process
    _process = runtime_of(app)


def _current() -> Runtime:
    """The current app's runtime; outside an app context, the process's own."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.extensions[EXTENSION]
    if _process is None:
        raise RuntimeError("Taskplane's runtime is used outside an app context in a process "
                           "that bound none: push `app.app_context()`, or `bind_process(app)`")
    return _process


runtime = cast(Runtime, LocalProxy(_current))
db = cast(Database, LocalProxy(_current, "db"))
celery_app = cast(Celery, LocalProxy(_current, "celery"))
