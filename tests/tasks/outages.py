"""Database outage tests' pieces: a stack of real processes on a database of the test's
own, and HTTP clients that submit and read jobs through it, each answer recorded.

Each run of a counted command type (`py-count`, `py-steps`) appends its job id to
`/tmp/taskplane-runs/<marker>.log`, so a second run of a job shows.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from pathlib import Path

import redis

from app.extensions import celery_app
from tests.conftest import worker_env
from tests.harness import CeleryWorker, Gunicorn, ProcessStack, http_request, wait_until

RUNS = Path("/tmp/taskplane-runs")


class Load:
    """Clients submitting jobs (cycling through `bodies`) and reading them back.

    Each client submits, then reads its job for `pause` seconds (at least once); every
    answer is kept as (status, body, Retry-After).
    """

    def __init__(self, port: int, tenant: str, bodies: list[dict], clients: int = 3,
                 pause: float = 0.05):
        self.port = port
        self.headers = {"X-Actor": "alice", "X-Roles": "viewer", "X-Tenant": tenant,
                        "Content-Type": "application/json"}
        self.bodies = [json.dumps(body).encode() for body in bodies]
        self.pause = pause
        self.accepted: list[str] = []
        self.job_types: dict[str, str] = {}
        self.answers: list[tuple[int, dict, str]] = []
        self.running = True
        self.threads = [threading.Thread(target=self._client, args=(index,), daemon=True)
                        for index in range(clients)]

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

    def _client(self, index: int) -> None:
        turn = index
        while self.running:
            body = self.bodies[turn % len(self.bodies)]
            turn += 1
            job = self._call("POST", "/jobs", body)
            until = time.monotonic() + self.pause
            if job.get("id"):
                self.accepted.append(job["id"])
                self.job_types[job["id"]] = job["job_type"]
                self._call("GET", f"/jobs/{job['id']}")
                while self.running and time.monotonic() < until:
                    time.sleep(0.1)
                    self._call("GET", f"/jobs/{job['id']}")
            time.sleep(max(0.05, until - time.monotonic()))

    def refused(self) -> list[tuple[dict, str]]:
        """(body, Retry-After) of every answer that was a 503."""
        return [(body, retry) for status, body, retry in self.answers if status == 503]

    def unexpected(self) -> list[tuple[int, dict]]:
        """Answers other than 200, 202 and 503."""
        return [(status, body) for status, body, _retry in self.answers
                if status not in (200, 202, 503)]

    def get(self, path: str) -> dict:
        """GET `path` once, outside the load (the database is back): the JSON answer."""
        status, body = http_request(self.port, "GET", path, headers=self.headers)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def post(self, path: str, body: dict) -> dict:
        """POST `body` to `path` once, outside the load: the JSON answer."""
        status, answer = http_request(self.port, "POST", path, json.dumps(body).encode(),
                                      headers=self.headers)
        assert status in (200, 201, 202), (path, status, answer[:300])
        return json.loads(answer)

    def get_logs(self, job_id: str) -> list[dict]:
        """The job's log entries (NDJSON), oldest first."""
        status, body = http_request(self.port, "GET", f"/jobs/{job_id}/logs",
                                    headers={**self.headers, "Accept": "application/x-ndjson"})
        assert status == 200, (job_id, status, body[:300])
        return [json.loads(line) for line in body.decode().splitlines()]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=60)


class OutageStack(ProcessStack):
    """The settings, broker database and run-count file of one outage test."""

    def __init__(self, database_url: str, settings: dict, app_factory, folder: Path, *,
                 postgres=None, **overrides):
        self.database_url = database_url
        self.postgres = postgres  # the `PostgresCluster` serving it, if any
        self.broker_url = settings["broker_url"].rsplit("/", 1)[0] + "/12"
        redis.Redis.from_url(self.broker_url).flushdb()
        # The production lease unless a test asks otherwise: its outages are shorter.
        overrides.setdefault("job_lease_seconds", 30.0)
        stack = dict(settings, database_url=database_url, broker_url=self.broker_url)
        # Binds this process's database and Celery app (pings, publishes) to this stack.
        self.app = app_factory(database_url=database_url, broker_url=self.broker_url,
                               **overrides)
        self.env = dict(worker_env(stack), TASKPLANE_SWEEP_INTERVAL_SECONDS="1",
                        **{f"TASKPLANE_{name.upper()}": str(value)
                           for name, value in overrides.items()})
        self.folder = folder
        self.marker = uuid.uuid4().hex
        self.runs = RUNS / f"{self.marker}.log"
        self.services = []

    def worker(self, name: str = "worker", **options) -> CeleryWorker:
        """A worker of this stack, ready, logging to `<name>.log`."""
        worker = CeleryWorker("tasks", self.env, self.folder / f"{name}.log", prefix="outage",
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
        """The job id of every counted run so far, once per run."""
        return self.runs.read_text().split() if self.runs.exists() else []

    def stop(self) -> None:
        """Stop the processes, remove the run file, empty the broker database."""
        self.stop_services()
        self.runs.unlink(missing_ok=True)
        redis.Redis.from_url(self.broker_url).flushdb()
