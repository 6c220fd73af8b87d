"""Two hosts, one platform: nothing depends on which host answers or which worker runs a job.

Each "host" is a gunicorn and a Celery worker with its own `TASKPLANE_VAR_DIR`, worker
hostname and port; both share one PostgreSQL database, one broker (a vhost or Redis
database of this module alone), one Redis for rate limits and one S3-compatible store.
Host A also runs the one beat. The tests run in file order: the last one kills host B's
worker.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Job
from tests.artifacts.conftest import BUCKET, s3_endpoint  # noqa: F401 - the shared S3 server
from tests.conftest import settled_readiness, worker_env
from tests.harness import CeleryWorker, Gunicorn, Service, http_request, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WRITE_BUDGET = 30  # per actor and minute, counted in the shared Redis
TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class Host:
    """One machine of the platform: its web server and its worker."""

    name: str
    web: Gunicorn
    worker: CeleryWorker

    def call(self, method: str, path: str, who: dict, body=None, headers=None):
        """One request to this host's web as `who`; (status, JSON or raw bytes)."""
        data = json.dumps(body).encode() if body is not None else None
        status, raw = http_request(self.web.port, method, path, data,
                                   {**who, "Content-Type": "application/json",
                                    **(headers or {})}, timeout=60)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw


def identity(tenant: str, actor: str, roles: str) -> dict:
    """The identity headers of one actor."""
    return {"X-Tenant": tenant, "X-Actor": actor, "X-Roles": roles}


@pytest.fixture(scope="module")
def platform(settings, database_url, private_broker, s3_endpoint, tmp_path_factory,  # noqa: F811
             app_factory):
    """Hosts A and B (A with the beat) on one PostgreSQL, broker, Redis and S3 bucket."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several hosts share one PostgreSQL: runs in the PostgreSQL session "
                    "(TASKPLANE_TEST_DATABASE_URL)")
    storage = f"s3://{BUCKET}/{uuid.uuid4().hex}?endpoint_url={s3_endpoint}"
    shared = dict(settings, broker_url=private_broker, storage_url=storage)
    control = app_factory(**shared)  # this process's Celery app speaks to the private broker
    base = dict(worker_env(shared), TASKPLANE_SWEEP_INTERVAL_SECONDS="1",
                TASKPLANE_RATE_LIMIT_WRITE=f"{WRITE_BUDGET}/minute")
    hosts, services = {}, []
    try:
        for name in ("a", "b"):
            folder = tmp_path_factory.mktemp(f"host-{name}")
            env = dict(base, TASKPLANE_VAR_DIR=str(folder))
            worker = CeleryWorker("tasks", env, folder / "worker.log",
                                  hostname=f"worker@host-{name}")
            services.append(worker)
            web = Gunicorn("app:create_app()", env, folder / "web.log")
            services.append(web)
            hosts[name] = Host(name, web, worker)
            if name == "a":
                services.append(Service("beat", [
                    sys.executable, "-m", "celery", "-A", "tasks", "beat", "--loglevel=INFO",
                    f"--schedule={folder / 'celerybeat-schedule'}"], folder / "beat.log", env))
        for host in hosts.values():
            with control.app_context():
                host.worker.wait_ready(control.extensions["celery"])
        yield hosts, shared
    finally:
        for service in reversed(services):
            service.stop()
        app_factory()  # back to the session's broker and store


@pytest.fixture
def people(tenant):
    """Identities of this test's tenant."""
    return {"alice": identity(tenant, "alice", "viewer"),
            "pat": identity(tenant, "pat", "publisher"),
            "root": identity(tenant, "root", "admin")}


def submit(host: Host, who: dict, job_type: str, payload: dict) -> str:
    """POST /jobs on `host`; the new job's id."""
    status, body = host.call("POST", "/jobs", who, {"job_type": job_type, "payload": payload,
                                                    "project": "hosts"})
    assert status == 202, body
    return body["id"]


def wait_job(host: Host, who: dict, job_id: str, statuses, timeout: float = 60) -> dict:
    """Poll GET /jobs/{id} on `host` until the job reaches one of `statuses`."""
    def reached():
        status, job = host.call("GET", f"/jobs/{job_id}", who)
        return job if status == 200 and job["status"] in statuses else None

    return wait_until(reached, timeout, interval=0.1, message=f"{job_id} to reach {statuses}")


def worker_of(job_id: str) -> str | None:
    """The worker hostname the job's current attempt runs on, as the database has it."""
    db.session.rollback()
    try:
        return db.session.scalar(select(Job.worker).where(Job.id == job_id))
    finally:
        db.session.rollback()


def test_submit_on_one_host_follow_logs_and_read_the_result_on_the_other(platform, people):
    hosts, _ = platform
    job_id = submit(hosts["a"], people["alice"], "py-lines", {"count": 3, "text": "both"})

    status, logs = http_request(hosts["b"].web.port, "GET", f"/jobs/{job_id}/logs?follow=true",
                                headers={**people["alice"], "Accept": "application/x-ndjson"},
                                timeout=60)  # streams until the job ends

    assert status == 200
    lines = [json.loads(line)["message"] for line in logs.decode().splitlines()]
    assert [line for line in lines if line.startswith("line ")] == ["line 0", "line 1", "line 2"]
    job = wait_job(hosts["b"], people["alice"], job_id, TERMINAL)
    assert job["status"] == "completed"
    status, result = hosts["b"].call("GET", f"/jobs/{job_id}/result", people["alice"])
    assert status == 200 and result["status"] == "completed"
    assert worker_of(job_id) in {"worker@host-a", "worker@host-b"}


def test_artifact_uploaded_on_one_host_downloads_on_the_other_and_by_signed_link(
        platform, people):
    hosts, _ = platform
    content = os.urandom(64 * 1024)
    status, artifact = hosts["a"].call("POST", "/artifacts", people["pat"], {
        "name": "blob.bin", "type": "data", "content": base64.b64encode(content).decode()})
    assert status == 201, artifact

    status, body = http_request(hosts["b"].web.port, "GET",
                                f"/artifacts/{artifact['id']}/download", headers=people["alice"])
    assert status == 200 and body == content
    status, link = hosts["a"].call("POST", f"/artifacts/{artifact['id']}/download-url",
                                   people["alice"], {})
    assert status == 201, link
    status, body = http_request(hosts["b"].web.port, "GET", urlsplit(link["url"]).path)
    assert status == 200 and body == content  # signed on A, honoured on B, no credentials


def test_cancel_on_one_host_stops_a_job_running_on_the_other_hosts_worker(platform, people):
    hosts, _ = platform
    job_id = submit(hosts["a"], people["alice"], "sleep", {"seconds": 60})
    wait_job(hosts["a"], people["alice"], job_id, ("running",))
    runner = wait_until(lambda: worker_of(job_id), 10, message="the job's worker")
    other = hosts["a"] if runner == "worker@host-b" else hosts["b"]

    status, _ = other.call("POST", f"/jobs/{job_id}/cancel", people["alice"])

    assert status in (200, 202)
    job = wait_job(other, people["alice"], job_id, TERMINAL, timeout=30)
    assert job["status"] == "cancelled"
    assert other.worker.hostname != runner


def test_quota_admission_is_exact_across_both_hosts(platform, people, tenant):
    hosts, _ = platform
    status, _ = hosts["b"].call("PUT", f"/quotas/{tenant}/sleep", people["root"],
                                {"max_active": 3})
    assert status == 200

    def one(n: int) -> tuple[int, dict]:
        host = hosts["ab"[n % 2]]
        return host.call("POST", "/jobs", people["alice"], {
            "job_type": "sleep", "payload": {"seconds": 60}, "project": "hosts"})

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(one, range(24)))
    admitted = [body["id"] for status, body in answers if status == 202]
    try:
        assert len(admitted) == 3
        assert sorted({status for status, _ in answers}) == [202, 429]
        assert {body["error"]["code"] for status, body in answers if status == 429} == {
            "quota_exceeded"}
    finally:
        for job_id in admitted:
            hosts["a"].call("POST", f"/jobs/{job_id}/cancel", people["alice"])


def test_rate_limit_budget_is_shared_by_both_hosts(platform, tenant):
    hosts, _ = platform
    spender = identity(tenant, f"rl-{uuid.uuid4().hex[:6]}", "viewer")
    answers = [hosts["ab"[n % 2]].call("POST", "/jobs/missing/cancel", spender)[0]
               for n in range(WRITE_BUDGET + 2)]
    assert answers[:WRITE_BUDGET] == [404] * WRITE_BUDGET
    assert answers[WRITE_BUDGET:] == [429, 429]  # one budget, whichever host counts


def test_readiness_refuses_a_local_folder_store_on_two_hosts(platform, app_factory, tmp_path):
    hosts, shared = platform
    for host in hosts.values():  # S3: one store for every host
        wait_until(lambda host=host: host.call("GET", "/readyz", {})[0] == 200, 30,
                   message=f"{host} ready")
    local = app_factory(**dict(shared, storage_url=f"file://{tmp_path / 'objects'}"))
    try:
        response = settled_readiness(local.test_client())
    finally:
        app_factory(**shared)
    assert response.status_code == 503
    reason = response.get_json()["checks"]["object_store"]["detail"]
    assert "2 hosts (host-a, host-b)" in reason


def test_a_killed_worker_host_leaves_its_jobs_to_the_other(platform, people):
    hosts, _ = platform
    ids = [submit(hosts["a"], people["alice"], "sleep", {"seconds": 4}) for _ in range(4)]
    on_b = wait_until(lambda: [i for i in ids if worker_of(i) == "worker@host-b"], 30,
                      message="a job running on host B")

    os.killpg(hosts["b"].worker.proc.pid, signal.SIGKILL)  # the whole host's worker, at once
    hosts["b"].worker.proc.wait()

    finished = [wait_job(hosts["b"], people["alice"], job_id, TERMINAL, timeout=90)
                for job_id in ids]
    assert [job["status"] for job in finished] == ["completed"] * 4
    for job_id in on_b:
        assert worker_of(job_id) == "worker@host-a"
