"""PostgreSQL refusing connections under load: every accepted job runs exactly once.

A private PostgreSQL cluster is stopped (immediate shutdown, as a crash) three times for
a few seconds while clients submit and read jobs through gunicorn and a worker runs
them. Each run of `py-count` appends its job id to a file, so a second run shows.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from app.extensions import celery_app
from app.migrate import upgrade
from tests.conftest import BACKENDS, Caller, worker_env
from tests.harness import (
    CeleryWorker,
    Gunicorn,
    HarnessError,
    PostgresCluster,
    http_request,
    wait_until,
)

OUTAGES, OUTAGE_SECONDS, CLIENTS = 3, 4.0, 3
RUNS = Path("/tmp/taskplane-runs")


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


class Load:
    """Clients submitting `py-count` jobs and reading them back, each answer recorded."""

    def __init__(self, port: int, tenant: str, marker: str):
        self.port = port
        self.headers = {"X-Actor": "alice", "X-Roles": "viewer", "X-Tenant": tenant,
                        "Content-Type": "application/json"}
        self.body = json.dumps({"job_type": "py-count", "project": "proj",
                                "payload": {"marker": marker, "seconds": 1.0}}).encode()
        self.accepted: list[str] = []
        self.answers: list[tuple[int, dict, str]] = []  # (status, body, Retry-After)
        self.running = True
        self.threads = [threading.Thread(target=self._client, daemon=True)
                        for _ in range(CLIENTS)]

    def _call(self, method: str, path: str, body: bytes | None = None) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=self.headers)
            response = conn.getresponse()
            raw = response.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"raw": raw[:300].decode(errors="replace")}
            self.answers.append((response.status, payload,
                                 response.getheader("Retry-After") or ""))
            return payload if response.status < 300 else {}
        finally:
            conn.close()

    def wait_accepted(self, count: int, message: str) -> None:
        """Wait until `count` more jobs have been accepted."""
        target = len(self.accepted) + count
        wait_until(lambda: len(self.accepted) >= target, 60, message=message)

    def _client(self) -> None:
        while self.running:
            job = self._call("POST", "/jobs", self.body)
            if job.get("id"):
                self.accepted.append(job["id"])
                self._call("GET", f"/jobs/{job['id']}")
            time.sleep(0.05)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=60)


class OutageStack:
    """The settings, broker database and run-count file of one outage test."""

    def __init__(self, postgres, settings: dict, app_factory, folder: Path):
        self.postgres = postgres
        self.database_url = postgres.url("taskplane")
        self.broker_url = settings["broker_url"].rsplit("/", 1)[0] + "/12"
        redis.Redis.from_url(self.broker_url).flushdb()
        # The production lease: the outages here are shorter, no attempt is lost.
        stack = dict(settings, database_url=self.database_url, broker_url=self.broker_url,
                     job_lease_seconds=30.0)
        # Binds this process's database and Celery app (pings, publishes) to this stack.
        self.app = app_factory(database_url=self.database_url, broker_url=self.broker_url)
        self.env = worker_env(stack)
        self.folder = folder
        self.marker = uuid.uuid4().hex
        self.runs = RUNS / f"{self.marker}.log"
        self.services = []

    def worker(self, **options) -> CeleryWorker:
        """A worker of this stack, ready."""
        worker = CeleryWorker("tasks", self.env, self.folder / "worker.log", prefix="outage",
                              **options)
        self.services.append(worker)
        worker.wait_ready(celery_app)
        return worker

    def web(self) -> Gunicorn:
        """gunicorn as the Procfile starts it, on a free port."""
        web = Gunicorn("app:create_app()", self.env, self.folder / "web.log")
        self.services.append(web)
        return web

    def ran(self) -> list[str]:
        """The job id of every `py-count` run so far, once per run."""
        return self.runs.read_text().split() if self.runs.exists() else []

    def stop(self) -> None:
        """Stop the processes, remove the run file, empty the broker database."""
        for service in reversed(self.services):
            service.stop()
        self.runs.unlink(missing_ok=True)
        redis.Redis.from_url(self.broker_url).flushdb()


@pytest.fixture
def outage_stack(postgres, settings, app_factory, tmp_path):
    """An `OutageStack` on the private cluster, stopped at the end of the test."""
    stack = OutageStack(postgres, settings, app_factory, tmp_path)
    yield stack
    stack.stop()


def test_claims_that_meet_an_outage_are_delivered_again(outage_stack, tenant):
    stack = outage_stack
    worker = stack.worker(paused=True, concurrency=2)
    alice = Caller(stack.app.test_client(), "alice", "viewer", tenant)
    body = {"marker": stack.marker, "seconds": 0.1}
    job_ids = [alice.submit("py-count", body).get_json()["id"] for _ in range(6)]

    stack.postgres.stop()
    worker.consume(celery_app, "default")  # every claim now meets the outage
    wait_until(lambda: worker.log().count("claim of job") >= len(job_ids), 60,
               message="each job's claim to fail")
    stack.postgres.start()

    for job_id in job_ids:  # no sweeper runs here: the messages themselves came back
        assert alice.wait_status(job_id, ("completed", "failed"), 60)["status"] == "completed"
    assert sorted(stack.ran()) == sorted(job_ids)


def test_database_outages_under_load_leave_every_job_completed_once(outage_stack, tenant):
    stack = outage_stack
    postgres, marker = stack.postgres, stack.marker
    stack.worker(queues="default")
    web = stack.web()
    with Load(web.port, tenant, marker) as load:
        for _ in range(OUTAGES):
            # A backlog builds (jobs take 1 s, two at a time).
            load.wait_accepted(15, "jobs accepted between outages")
            postgres.stop()
            time.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to wait for
            postgres.start()
        load.wait_accepted(5, "jobs accepted after the last outage")

    unexpected = [(status, body) for status, body, _retry in load.answers
                  if status not in (200, 202, 503)]
    assert not unexpected, unexpected[:3]
    refused = [(body, retry) for status, body, retry in load.answers if status == 503]
    assert refused, "no request met an outage"
    assert all(body["error"]["code"] == "service_unavailable" and retry == "5"
               and body["error"]["request_id"] for body, retry in refused)

    def all_completed():
        for job_id in load.accepted:
            status, body = http_request(web.port, "GET", f"/jobs/{job_id}",
                                        headers=load.headers)
            if status != 200 or json.loads(body)["status"] != "completed":
                return False
        return True

    wait_until(all_completed, 120, interval=0.5, message="every accepted job to complete")
    ran = stack.ran()
    assert set(load.accepted) <= set(ran)
    twice = {job_id for job_id in ran if ran.count(job_id) > 1}
    assert not twice, f"{len(twice)} jobs ran more than once"
    print(f"{len(load.accepted)} jobs accepted, {len(refused)} of {len(load.answers)} "
          f"requests answered 503, {len(ran)} runs")
