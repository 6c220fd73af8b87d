"""Worker entry point: `celery -A tasks worker|beat|flower` loads this module.

It only calls the app factory (which configures the database, the catalog and the
Celery app), then registers one task per job type and the signal handlers. Task
modules are imported here, after configuration, because registering needs the catalog.
"""

from __future__ import annotations

from contextlib import nullcontext

from flask import Flask

from app import tracing
from app.extensions import celery_app, runtime
from app.factory import create_app

tracing.defer_to_fork()  # each pool process sets up its own tracer (tasks.telemetry)
try:
    flask_app: Flask = create_app()
except RuntimeError as exc:  # a settings or schema error: one line, not a traceback
    raise SystemExit(f"taskplane: {exc}") from None


class FlaskTask(celery_app.Task):
    """Runs each task inside the Flask app context, as Flask's Celery pattern does."""

    def __call__(self, *args, **kwargs):
        job_type = getattr(self, "job_type_name", None)
        span = tracing.job_span(self.request.id, job_type) if job_type else nullcontext()
        with flask_app.app_context(), span:
            return self.run(*args, **kwargs)


celery_app.Task = FlaskTask

from tasks import signals, sweeper, telemetry  # noqa: E402,F401 - handlers and beat task
from tasks.runner import register_job_tasks  # noqa: E402

register_job_tasks(celery_app, runtime.catalog)
celery_app.set_default()
app = celery_app
