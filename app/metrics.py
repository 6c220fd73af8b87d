"""Prometheus metrics (SPEC §8): what each process counts, and what is read at scrape time.

Counters and histograms live in the process that saw the event: the web process for
requests and the transitions it commits (submit, cancel, retry), the worker's pool
processes for the transitions a job run commits. Under gunicorn and Celery's prefork pool
they are written to prometheus-client's multiprocess folder (`PROMETHEUS_MULTIPROC_DIR`)
and summed over every process of that folder at scrape time. Queue depth, quota usage
and workers online are read when `/metrics` is scraped (`ScrapeTimeCollector`).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from app.models.jobs import TERMINAL, JobState

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MS_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
              900000, 3600000)

HTTP_REQUESTS = Counter("service_http_requests", "HTTP requests answered, by URL rule",
                        ["method", "route", "status"])
HTTP_DURATION = Histogram("service_http_request_duration_seconds",
                          "Time to answer an HTTP request, by URL rule", ["method", "route"])
SLOW_REQUESTS = Counter("service_slow_requests",
                        "Requests slower than TASKPLANE_SLOW_REQUEST_MS", ["method", "route"])
JOBS = Counter("service_jobs", "Job status changes committed, by the status entered",
               ["job_type", "status"])
JOB_RETRIES = Counter("service_job_retries", "Job attempts that will run again", ["job_type"])
JOB_DURATION = Histogram("service_job_duration_ms", "Attempt run time, claimed to its end",
                         ["job_type", "status"], buckets=MS_BUCKETS)
ARTIFACT_INTEGRITY = Counter("service_artifact_integrity_failures",
                             "Stored objects found missing or not matching their digest",
                             ["kind", "source"])
QUEUE_WAIT = Histogram("service_job_queue_wait_ms", "Time from queued (dispatched) to claimed",
                       ["job_type"], buckets=MS_BUCKETS)


def _ms(start, end) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds() * 1000)


def method_label(method: str) -> str:
    """The method as a label: any verb outside HTTP's usual ones is `OTHER` (bounded)."""
    return method if method in METHODS else "OTHER"


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    method = method_label(method)
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def observe_job(job) -> None:
    """Count the status `job` (a committed row) has just entered, with its timings."""
    status, job_type = job.status, job.job_type
    JOBS.labels(job_type, status).inc()
    if status == JobState.RUNNING:
        wait = _ms(job.dispatched_at or job.created_at, job.started_at)
        if wait is not None:
            QUEUE_WAIT.labels(job_type).observe(wait)
    elif status == JobState.RETRYING or (status == JobState.QUEUED and job.attempts > 0):
        JOB_RETRIES.labels(job_type).inc()
    if status in TERMINAL or status == JobState.RETRYING:
        took = _ms(job.started_at, job.completed_at or job.updated_at)
        if took is not None and job.attempts > 0:
            JOB_DURATION.labels(job_type, status).observe(took)


def multiprocess_dir() -> str | None:
    """The folder prometheus-client's multiprocess mode writes to, when it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def prepare_multiprocess_dir(folder: str) -> None:
    """Create `folder` empty: called once at start, before any process writes to it.

    Files of the processes that ran since then stay (counters of a dead process still
    count), so the folder holds a few files per process started since the last start.
    """
    path = Path(folder)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def mark_process_dead(pid: int) -> None:
    """Forget the live gauges of process `pid` (gunicorn's `child_exit`, a pool child's exit)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)


def registry() -> CollectorRegistry:
    """What this process exposes: every process of its multiprocess folder, else its own."""
    folder = multiprocess_dir()
    if folder is None:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected, path=folder)
    return collected


def exposition(*extra_collectors) -> tuple[bytes, str]:
    """The text exposition of this process's metrics plus `extra_collectors`; (body, type)."""
    body = generate_latest(registry())
    if extra_collectors:
        scrape = CollectorRegistry(auto_describe=False)
        for collector in extra_collectors:
            scrape.register(collector)
        body += generate_latest(scrape)
    return body, CONTENT_TYPE_LATEST


class ScrapeTimeCollector:
    """Gauges read when scraped: queue depth, quota usage, workers online, readiness."""

    def __init__(self, queue_depths, quota_usage, workers_online, ready):
        self._sources = (queue_depths, quota_usage, workers_online, ready)

    def collect(self):
        """Yield the gauge families (a source that fails yields its family empty, or 0)."""
        queue_depths, quota_usage, workers_online, ready = self._sources
        depth = GaugeMetricFamily("service_job_queue_depth",
                                  "Messages waiting per queue, every priority counted",
                                  labels=["queue"])
        for queue, count in _safely(queue_depths, {}).items():
            depth.add_metric([queue], count)
        usage = GaugeMetricFamily("service_job_quota_usage",
                                  "Quota used, as a fraction of the limit (1 = exhausted)",
                                  labels=["tenant", "job_type", "quota"])
        for (tenant, job_type, quota), fraction in _safely(quota_usage, {}).items():
            usage.add_metric([tenant, job_type, quota], fraction)
        online = GaugeMetricFamily("service_workers_online",
                                   "Celery workers that answered a ping")
        online.add_metric([], _safely(workers_online, 0))
        readiness = GaugeMetricFamily("service_ready", "1 when /readyz would answer 200")
        readiness.add_metric([], 1 if _safely(ready, False) else 0)
        return [depth, usage, online, readiness]


def _safely(source, fallback):
    try:
        return source()
    except Exception:  # noqa: BLE001 - a dependency down must not break the whole scrape
        return fallback


class Cached:
    """`source()` remembered for a while in this process (a ping per scrape is too much)."""

    def __init__(self, source):
        self.source = source
        self._value, self._at = None, float("-inf")

    def __call__(self, max_age: float):
        """The cached value, read again when older than `max_age` seconds."""
        if time.monotonic() - self._at >= max_age:
            self._value, self._at = self.source(), time.monotonic()
        return self._value
