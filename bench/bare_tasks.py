"""The bare Celery side: Taskplane's own Celery settings, plus no-op tasks and nothing else.

Configured from `celeryconfig.build(settings, catalog)`, so the broker transport
options (priority steps, visibility timeout), acks late, prefetch 1, JSON and task
events are exactly Taskplane's. `BENCH_RESULT_BACKEND`, when set, adds a Redis result
backend (used only by the latency measurement, for `AsyncResult.get()`).

Worker: `python -m celery -A bench.bare_tasks worker --pool=prefork --concurrency=2 ...`
with `TASKPLANE_BROKER_URL` set, as for Taskplane's worker.
"""

from __future__ import annotations

import os

from celery import Celery

import celeryconfig
from config.catalog import build_catalog
from config.settings import Settings

settings = Settings.from_env()
app = Celery("bench_bare")
app.config_from_object(celeryconfig.build(settings, build_catalog(settings.command_types_file)))
if os.environ.get("BENCH_RESULT_BACKEND"):
    app.conf.result_backend = os.environ["BENCH_RESULT_BACKEND"]


@app.task(name="bench.noop", ignore_result=True)
def noop(*_args, **_kwargs) -> None:
    """Do nothing; no result is stored."""


@app.task(name="bench.noop_result", ignore_result=False)
def noop_result(*_args, **_kwargs) -> None:
    """Do nothing; the (None) result goes to the result backend so callers can `.get()` it."""
