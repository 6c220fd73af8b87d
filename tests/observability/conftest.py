"""A stack of its own for the observability tests: gunicorn (2 workers) and a Celery worker.

They share the session's database and redis-server but use their own Redis database as
broker, so only this worker runs their jobs and every count they read is theirs.
"""

from __future__ import annotations

import json

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import worker_env
from tests.harness import CeleryWorker, Gunicorn, free_port

METRICS_TOKEN = "metrics-test-token"


def own_broker(redis_url: str, db: int) -> str:
    """The session's redis-server URL with database `db`."""
    return redis_url.rsplit("/", 1)[0] + f"/{db}"


class Stack:
    """The running processes and how to talk to them."""

    def __init__(self, web: Gunicorn, worker: CeleryWorker, worker_metrics_port: int,
                 web_metrics_dir: str):
        self.web, self.worker = web, worker
        self.worker_metrics_port = worker_metrics_port
        self.web_metrics_dir = web_metrics_dir

    def call(self, method: str, path: str, tenant: str, roles: str = "operator", **kwargs):
        """One API call as `alice` of `tenant`."""
        headers = {"X-Actor": "alice", "X-Roles": roles, "X-Tenant": tenant,
                   **kwargs.pop("headers", {})}
        return requests.request(method, self.web.url + path, headers=headers, timeout=30,
                                **kwargs)

    def web_metrics(self) -> str:
        """GET /metrics of the API with the bearer token."""
        response = requests.get(f"{self.web.url}/metrics", timeout=30,
                                headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 200, response.text
        return response.text

    def stop(self) -> None:
        """Stop gunicorn, then the worker."""
        self.web.stop()
        self.worker.stop()

    def worker_metrics(self) -> str:
        """The worker's job metrics."""
        return requests.get(f"http://127.0.0.1:{self.worker_metrics_port}/metrics",
                            timeout=30).text


def samples(exposition: str) -> dict:
    """`{(name, sorted label items): value}` of every sample of a text exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(exposition) for s in family.samples}


def value(exposition: str, name: str, **labels) -> float:
    """One sample's value (0 when absent)."""
    return samples(exposition).get((name, tuple(sorted(labels.items()))), 0.0)


def start_stack(settings, app_factory, redis_url, folder, broker_db: int, **extra_env):
    """gunicorn (2 workers, config/gunicorn.py) and a worker serving its job metrics."""
    from app.extensions import celery_app

    broker = own_broker(redis_url, broker_db)
    env = {k: v for k, v in worker_env(dict(settings, broker_url=broker)).items()
           if not k.startswith("OTEL_")}
    env.update(TASKPLANE_SLOW_REQUEST_MS="0",  # every request is slow: counted, kept
               TASKPLANE_LOG_FORMAT="json", TASKPLANE_METRICS_ALLOW="10.255.255.0/24",
               TASKPLANE_METRICS_TOKEN=METRICS_TOKEN, TASKPLANE_WORKERS_ONLINE_CACHE_SECONDS="0",
               **extra_env)
    worker_port = free_port()
    worker_env_ = dict(env, TASKPLANE_WORKER_METRICS_PORT=str(worker_port),
                       PROMETHEUS_MULTIPROC_DIR=str(folder / "worker-metrics"))
    app_factory(broker_url=broker)  # this process pings through the stack's broker
    worker = CeleryWorker("tasks", worker_env_, folder / "worker.log", prefix="obs")
    web_dir = str(folder / "web-metrics")
    try:
        worker.wait_ready(celery_app)
        web = Gunicorn("app:create_app()", dict(env, PROMETHEUS_MULTIPROC_DIR=web_dir),
                       folder / "gunicorn.log")
    except Exception:
        worker.stop()
        raise
    return Stack(web, worker, worker_port, web_dir)


@pytest.fixture(scope="package")
def stack(settings, app_factory, redis_url, tmp_path_factory):
    """gunicorn with 2 workers serving /metrics (loopback refused: token only) and a worker.

    Every request counts as slow here (threshold 0 ms), so each one is kept and logged.
    """
    running = start_stack(settings, app_factory, redis_url,
                          tmp_path_factory.mktemp("observability"), 3)
    yield running
    running.stop()
    app_factory()  # back to the session's broker for the tests that follow


def log_lines(path) -> list[dict]:
    """The JSON lines of a process log (other lines skipped)."""
    lines = []
    for line in open(path, errors="replace"):
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
    return lines


