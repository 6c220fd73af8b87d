"""Helpers for job lifecycle tests that run on the session's real worker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from app.migrate import upgrade
from tests.api.conftest import expect_error  # noqa: F401 - the shared envelope check
from tests.conftest import BACKENDS, Caller, worker_env
from tests.harness import (
    CeleryWorker,
    HarnessError,
    PostgresCluster,
    ProcessStack,
    redis_copies,
)
from tests.tasks.outages import OutageStack


@pytest.fixture
def alice(caller):
    """The submitter of this test's jobs (a viewer)."""
    return caller("viewer", actor="alice")


@pytest.fixture
def operator(caller):
    """An operator of the same tenant: may read governance events."""
    return caller("operator", actor="olga")


@pytest.fixture
def job_events(operator):
    """`job_events(job_id, type=None)`: the job's governance events, oldest first (GET /events)."""

    def fetch(job_id: str, type: str | None = None) -> list[dict]:
        query = f"/events?job_id={job_id}&limit=500" + (f"&type={type}" if type else "")
        response = operator.get(query)
        assert response.status_code == 200, response.get_json()
        return list(reversed(response.get_json()["items"]))

    return fetch


@pytest.fixture
def job_logs(alice):
    """`job_logs(job_id)`: the job's log entries as NDJSON objects, oldest first."""

    def fetch(job_id: str) -> list[dict]:
        response = alice.get(f"/jobs/{job_id}/logs", headers={"Accept": "application/x-ndjson"})
        assert response.status_code == 200
        return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]

    return fetch


@pytest.fixture
def printed_pids(job_logs):
    """`printed_pids(job_id)`: the (command, grandchild) pids `py-hang` logged, or None yet."""

    def pids(job_id: str) -> tuple[int, int] | None:
        for entry in job_logs(job_id):
            if match := re.fullmatch(r"pids (\d+) (\d+)", entry["message"]):
                return int(match[1]), int(match[2])
        return None

    return pids


def outcomes_in(worker: CeleryWorker, job_id: str) -> list[str]:
    """The outcome of each finished delivery of the job's message to `worker`.

    Read from the worker's log (`Task ...[<job id>] succeeded in ...: {... 'outcome': ...}`),
    so a test can wait until a duplicate or deferred delivery has really been handled.
    """
    pattern = re.compile(rf"\[{re.escape(job_id)}\] succeeded in \S+: .*'outcome': '(\w+)'")
    return pattern.findall(worker.log())


@pytest.fixture
def delivery_outcomes(worker):
    """`delivery_outcomes(job_id)`: `outcomes_in` the session's worker."""
    return lambda job_id: outcomes_in(worker, job_id)


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie is dead


@pytest.fixture
def pid_alive():
    """`pid_alive(pid)`: whether the process exists and is not a zombie awaiting its reaper."""
    return _pid_alive


class PrivateStack(ProcessStack):
    """Workers and a beat of one test alone, on a broker database no other worker reads.

    Kill tests need their own processes: the session's worker must survive them, and
    must not take (and so hide) the messages a test counts.
    """

    DB = 11  # the session's worker uses database 0 of the same redis-server

    def __init__(self, settings: dict, app_factory, folder: Path, tenant: str):
        self.url = settings["broker_url"].rsplit("/", 1)[0] + f"/{self.DB}"
        self.broker = redis.Redis.from_url(self.url)
        self.broker.flushdb()
        self.settings = dict(settings, broker_url=self.url)
        self.app = app_factory(broker_url=self.url)  # binds this process's Celery app too
        self.client = self.app.test_client()
        self.folder = folder
        self.tenant = tenant
        self.env = dict(worker_env(self.settings), TASKPLANE_SWEEP_INTERVAL_SECONDS="1")
        self.services = []

    def caller(self, roles: str = "viewer", actor: str = "alice") -> Caller:
        """A caller of this test's tenant, through the app that publishes to this broker."""
        return Caller(self.client, actor, roles, self.tenant)

    def worker(self, queues: str, concurrency: int = 2) -> CeleryWorker:
        """A worker consuming `queues`, answering pings before this returns."""
        from app.extensions import celery_app

        name = f"worker-{len(self.services)}"
        worker = CeleryWorker("tasks", self.env, self.folder / f"{name}.log", prefix=name,
                              concurrency=concurrency, queues=queues)
        self.services.append(worker)
        worker.wait_ready(celery_app)
        return worker

    def copies(self, job_id: str) -> dict[str, int]:
        """Messages of the job the broker holds: per queue list, and reserved (`unacked`)."""
        return redis_copies(self.broker, job_id)

    def restore_reserved(self, job_id: str) -> int:
        """Put the job's reserved messages back in their queue, as the visibility timeout
        would after a dead worker's hour: kombu's own restore. Returns how many."""
        from app.extensions import celery_app

        tags = [tag for tag, raw in self.broker.hgetall("unacked").items()
                if json.loads(raw)[0]["headers"]["id"] == job_id]
        with celery_app.connection_for_write() as conn:
            for tag in tags:
                conn.default_channel.qos.restore_by_tag(tag.decode(), leftmost=True)
        return len(tags)

    def stop(self) -> None:
        """Stop every process this stack started, newest first; empty its broker database."""
        self.stop_services()
        self.broker.flushdb()


@pytest.fixture
def private_stack(app, settings, app_factory, tmp_path, tenant):
    """A `PrivateStack` for this test, stopped at its end.

    Built after the test's `app`, which the other fixtures use, so that the process's
    Celery app stays bound to this stack's broker.
    """
    stack = PrivateStack(settings, app_factory, tmp_path, tenant)
    yield stack
    stack.stop()


@pytest.fixture
def postgres(database_url):
    """A private PostgreSQL cluster with a migrated `taskplane` database.

    The cluster is the test's own whatever the session's backend, so the tests run
    once per suite: in the PostgreSQL session when there is one.
    """
    if database_url.startswith("sqlite") and "postgresql" in BACKENDS:
        pytest.skip("runs once per suite, in the PostgreSQL session")
    try:
        cluster = PostgresCluster()
    except HarnessError as exc:
        pytest.skip(str(exc))
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE taskplane"))
    admin.dispose()
    upgrade(cluster.url("taskplane"))
    yield cluster
    cluster.destroy()


@pytest.fixture
def outage_stack(postgres, settings, app_factory, tmp_path):
    """An `OutageStack` on the private cluster's `taskplane` database, stopped at the end."""
    stack = OutageStack(postgres.url("taskplane"), settings, app_factory, tmp_path,
                        postgres=postgres)
    yield stack
    stack.stop()
