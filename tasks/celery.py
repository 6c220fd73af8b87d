"""Worker entry point: `celery -A tasks worker|beat|flower` loads this module.

It only calls the app factory (which builds the app's database, catalog and Celery
app), makes that app the process's own, then registers one task per job type and the
signal handlers. Task modules are imported here, after the app exists, because
registering needs its catalog.
"""

from __future__ import annotations

from contextlib import nullcontext

from celery import Celery
from flask import Flask

from app import tracing
from app.extensions import bind_process, runtime_of
from app.factory import create_app

tracing.defer_to_fork()  # each pool process sets up its own tracer (tasks.telemetry)
try:
    flask_app: Flask = create_app()
except RuntimeError as exc:  # a settings or schema error: one line, not a traceback
    raise SystemExit(f"taskplane: {exc}") from None
bind_process(flask_app)  # signal handlers and the heartbeat thread run outside a task's context
celery_app: Celery = flask_app.extensions["celery"]


class FlaskTask(celery_app.Task):
    """Runs each task inside the Flask app context, as Flask's Celery pattern does."""

    def __call__(self, *args, **kwargs):
        job_type = getattr(self, "job_type", None)
        span = tracing.job_span(self.request.id, job_type) if job_type else nullcontext()
        with flask_app.app_context(), span:
            return self.run(*args, **kwargs)


celery_app.Task = FlaskTask

from tasks import signals, sweeper, telemetry  # noqa: E402,F401 - handlers and beat task
from tasks.runner import register_job_tasks  # noqa: E402

register_job_tasks(celery_app, runtime_of(flask_app).catalog)
celery_app.set_default()
app = celery_app
