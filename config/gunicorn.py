"""gunicorn settings of the `web` process (`gunicorn -c config/gunicorn.py 'app:create_app()'`).

gunicorn reads this file as its configuration; every value can still be overridden on the
command line or with `GUNICORN_CMD_ARGS`. Environment variables are those the Procfile
documents (README, "Settings").

Serving model: `gthread` workers. A log follow, an SSE stream or a long poll holds one
thread of its process, never a whole process, and takes one of the process's
`TASKPLANE_STREAM_SLOTS`; an artifact upload or download takes one of its
`TASKPLANE_TRANSFER_SLOTS` and ends when its client stalls for
`TASKPLANE_TRANSFER_STALL_SECONDS`. The threads beyond the slots (`WEB_REQUEST_THREADS`)
are left for every other request, so no number of open, abandoned or slow streams and
transfers keeps `/livez` or a submit waiting. Idle keep-alive connections, and new ones
that have sent nothing yet, wait in the worker's poller, not in a thread.

Metrics: every worker writes to one prometheus-client multiprocess folder
(`PROMETHEUS_MULTIPROC_DIR`, default `var/metrics/web-<port>`), wiped when the master
starts; a worker that exits is marked dead. Tracing is set up in each worker after fork.
Logs: gunicorn's own lines use Taskplane's formatter; the app logs one line per request,
so gunicorn's access log is off.
"""

from __future__ import annotations

import os
import sys

from config.settings import Settings, var_dir

settings = Settings.from_env()
# Checked once in the master, so a missing or wrong setting is one line, not a traceback
# from every worker it forks.
try:
    settings.check()
except RuntimeError as exc:
    sys.exit(f"taskplane: {exc}")

_port = os.environ.get("PORT", "8000")
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{_port}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread, with the mixin that answers what gunicorn refuses before the app runs (request
# line or headers over the limits below, a malformed request) in the JSON error envelope.
worker_class = "app.web_workers.ThreadWorker"
# Streams and transfers are capped at their slots, so these threads always remain for
# other requests.
threads = (settings.stream_slots + settings.transfer_slots
           + int(os.environ.get("WEB_REQUEST_THREADS", "16")))
# Seconds a worker's main loop may go silent before the master restarts it. Requests run in
# threads beside that loop, so a long stream, upload or download is never cut off by it.
timeout = int(os.environ.get("WEB_TIMEOUT", "600"))
# Seconds an idle keep-alive connection stays open. A connection stays with the worker that
# accepted it, so a few busy keep-alive clients can all land on one worker; 0 closes each
# connection after its answer and spreads every request over the workers, as sync workers do.
keepalive = int(os.environ.get("WEB_KEEPALIVE", "2"))
# The request line (method, path and query) and each header: 8,190 bytes, gunicorn's most;
# at most 100 headers. Longer answers 400 (line) or 431 (headers), before the app runs.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None
# Set before any worker imports prometheus-client, which picks its mode on import.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(var_dir() / "metrics" / f"web-{_port}"))
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"taskplane": {"()": "app.logs.formatter",
                                 "log_format": settings.log_format}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "taskplane",
                             "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "propagate": True},
                "gunicorn.access": {"level": "INFO", "propagate": True}},
}


def on_starting(server):
    """Master, once: an empty metrics folder, so no dead process from a last run counts."""
    from app.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def post_fork(server, worker):
    """Each worker: its own tracer provider and exporter thread (when `OTEL_*` asks for one)."""
    from app.tracing import configure

    configure("taskplane-web")


def post_worker_init(worker):
    """Each worker, its app loaded: start the readiness checks, so the first probe finds them."""
    from app.extensions import EXTENSION
    from app.services import readiness

    if EXTENSION not in getattr(worker.wsgi, "extensions", {}):
        return  # another app served with this file: the benchmark's bare Flask side
    with worker.wsgi.app_context():
        readiness.monitor()


def worker_exit(server, worker):
    """In the worker that ends: send the spans it still holds."""
    from app.tracing import shutdown

    shutdown()


def child_exit(server, worker):
    """Master: a worker is gone; its live gauges no longer count."""
    from app.metrics import mark_process_dead

    mark_process_dead(worker.pid)
