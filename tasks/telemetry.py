"""Worker-side telemetry: one logging setup, tracing after fork, job metrics over HTTP.

Job metrics are counted in the pool processes that run the jobs, into the worker's own
multiprocess folder (`PROMETHEUS_MULTIPROC_DIR`, wiped when the worker starts); the
worker's main process serves them, summed over its pool, on
`TASKPLANE_WORKER_METRICS_HOST:TASKPLANE_WORKER_METRICS_PORT` for Prometheus to scrape.
"""

from __future__ import annotations

import logging
import os

from celery import signals
from prometheus_client import start_http_server

from app import logs, metrics, tracing
from app.extensions import runtime

logger = logging.getLogger("taskplane.telemetry")


@signals.setup_logging.connect
def use_structured_logging(**_kwargs) -> None:
    """Celery logs through Taskplane's configuration (JSON lines or text), not its own."""
    logs.configure_logging(runtime.settings.log_format, runtime.settings.log_level)


@signals.worker_init.connect
def serve_job_metrics(**_kwargs) -> None:
    """In the worker's main process, before the pool forks: wipe the folder, start serving."""
    settings = runtime.settings
    if not settings.worker_metrics_port:
        return
    folder = metrics.multiprocess_dir()
    if folder is None:
        raise RuntimeError("TASKPLANE_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR "
                           "(a folder of this worker's own, see the Procfile)")
    metrics.prepare_multiprocess_dir(folder)
    start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host,
                      registry=metrics.registry())
    logger.info("job metrics on http://%s:%s/metrics", settings.worker_metrics_host,
                settings.worker_metrics_port)


@signals.worker_process_init.connect
def start_tracing(**_kwargs) -> None:
    """Each pool process sets up its own tracer provider, after the fork."""
    tracing.configure("taskplane-worker")


@signals.worker_process_shutdown.connect
def flush_telemetry(**_kwargs) -> None:
    """A pool process that ends sends its last spans and drops its live gauges."""
    tracing.shutdown()
    metrics.mark_process_dead(os.getpid())


@signals.task_prerun.connect
def bind_job(sender=None, task_id=None, **_kwargs) -> None:
    """Worker lines written while a job runs name the job (the attempt follows at claim)."""
    if getattr(sender, "name", "").startswith("taskplane.job."):
        logs.LOG_CONTEXT.set({"job_id": task_id, "job_type": sender.job_type})


@signals.task_postrun.connect
def unbind_job(**_kwargs) -> None:
    """The next task starts with no job named."""
    logs.LOG_CONTEXT.set(None)
