"""Real pieces for every test: a redis-server, a migrated database, a Celery worker process.

The suite runs once on SQLite and, when `TASKPLANE_TEST_DATABASE_URL` names a
PostgreSQL server, once more on a fresh database created there (`make test`: both at
once, a process each). The broker is the
session's Redis, or with `TASKPLANE_TEST_BROKER=amqp://…` a RabbitMQ vhost of the run's
own (Redis still serves the rate limits); tests on the real worker are marked `e2e`, so
`pytest -m e2e` is the part of the suite worth running on a second broker. Each test builds its
own Flask app from the factory and works in its own tenant, so tests sharing the
session's database and worker never see each other's jobs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.migrate import upgrade
from tests import tenancy_guard
from tests.harness import (
    CeleryWorker,
    HarnessError,
    RabbitVhost,
    RedisServer,
    scratch_postgres,
    served,
    suite_databases,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
COMMAND_TYPES = ROOT / "tests" / "data" / "commands.toml"
BACKENDS = suite_databases()
# The databases of this process: `TASKPLANE_TEST_PASS` names one when `make test` runs a
# process per database side by side (tests/passes.py); unset, every one of BACKENDS.
PASS = [name for name in BACKENDS
        if name in os.environ.get("TASKPLANE_TEST_PASS", ",".join(BACKENDS)).split(",")]
TEST_SETTINGS = {
    "command_types_file": str(COMMAND_TYPES),
    "job_lease_seconds": 3.0,
    "heartbeat_seconds": 0.3,
    "dispatch_grace_seconds": 1.0,
    "log_follow_poll_seconds": 0.05,
    "worker_ping_timeout": 2.0,
    "rate_limit_submit": "100000/minute",  # high: only the rate-limit tests meet a limit
    "rate_limit_write": "100000/minute",
    "rate_limit_read": "100000/minute",
    "rate_limit_auth_failures": "100000/minute",
}
SETTING_ENV = {
    "command_types_file": "TASKPLANE_COMMAND_TYPES",
    "job_lease_seconds": "TASKPLANE_JOB_LEASE_SECONDS",
    "heartbeat_seconds": "TASKPLANE_HEARTBEAT_SECONDS",
    "dispatch_grace_seconds": "TASKPLANE_DISPATCH_GRACE_SECONDS",
    "worker_ping_timeout": "TASKPLANE_WORKER_PING_TIMEOUT",
    "rate_limit_submit": "TASKPLANE_RATE_LIMIT_SUBMIT",
    "rate_limit_write": "TASKPLANE_RATE_LIMIT_WRITE",
    "rate_limit_read": "TASKPLANE_RATE_LIMIT_READ",
    "rate_limit_auth_failures": "TASKPLANE_RATE_LIMIT_AUTH_FAILURES",
    "storage_url": "TASKPLANE_STORAGE_URL",
    "redis_url": "TASKPLANE_REDIS_URL",
}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server on a free port, gone at the end of the session."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except HarnessError as exc:
        pytest.exit(str(exc), returncode=2)
    yield server.url()
    server.stop()


@pytest.fixture(scope="session")
def broker_url(redis_url):
    """The session's Redis, or a fresh vhost of the RabbitMQ in `TASKPLANE_TEST_BROKER`."""
    server = os.environ.get("TASKPLANE_TEST_BROKER", "")
    if not server or server.startswith("redis"):
        yield server or redis_url
        return
    try:
        vhost = RabbitVhost(server)
    except HarnessError as exc:
        pytest.exit(str(exc), returncode=2)
    yield vhost.url
    vhost.stop()


@pytest.fixture(scope="module")
def private_broker(broker_url, redis_url):
    """A broker of this test alone, of the session's kind: its own Redis database or vhost.

    Processes a test starts on it share no message with the session's worker.
    """
    if broker_url.startswith("redis"):
        yield redis_url.rsplit("/", 1)[0] + f"/{next(_REDIS_DATABASES)}"
        return
    vhost = RabbitVhost(os.environ["TASKPLANE_TEST_BROKER"])
    yield vhost.url
    vhost.stop()


tenancy_guard.install()


@pytest.fixture(autouse=True)
def no_tenant_escape():
    """Fail the test when a statement of a tenant-scoped session escaped the tenancy hook."""
    seen = len(tenancy_guard.escapes)
    yield
    assert tenancy_guard.escapes[seen:] == []


# Database 0 is the session's broker and rate limits; some stacks name one of 1-15 of
# their own (tests/observability, tests/tasks): a private broker takes 16 and up.
_REDIS_DATABASES = itertools.count(16)


def pytest_collection_modifyitems(config, items):
    """Mark `e2e` every test that runs on the session's real worker.

    A test that uses no database runs in the pass of the first one only.
    """
    for item in items:
        if "worker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)
    if BACKENDS[0] not in PASS:
        uses = {item: "database_url" in getattr(item, "fixturenames", ()) for item in items}
        config.hook.pytest_deselected(items=[item for item in items if not uses[item]])
        items[:] = [item for item in items if uses[item]]


@contextlib.contextmanager
def migrated_database(kind: str, folder: Path, prefix: str) -> Iterator[str]:
    """A fresh migrated database, its URL: a SQLite file in `folder` (`kind` "sqlite"), or
    a scratch database named from `prefix` on the PostgreSQL server of the run."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'{prefix}.db'}"
        upgrade(url)
        yield url
        return
    with scratch_postgres(os.environ["TASKPLANE_TEST_DATABASE_URL"], prefix) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session", params=PASS)
def database_url(request, tmp_path_factory):
    """A migrated database: a SQLite file, or a fresh PostgreSQL database."""
    with migrated_database(request.param, tmp_path_factory.mktemp("db"), "taskplane_test") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url, broker_url, redis_url, tmp_path_factory):
    """Settings overrides shared by the test app and the worker process."""
    return dict(TEST_SETTINGS, database_url=database_url, broker_url=broker_url,
                redis_url=redis_url,
                storage_url=f"file://{tmp_path_factory.mktemp('objects')}")


def worker_env(settings: dict) -> dict:
    """Environment that gives a worker process the same settings as the test app."""
    env = dict(os.environ, TASKPLANE_DATABASE_URL=settings["database_url"],
               TASKPLANE_BROKER_URL=settings["broker_url"], PYTHONUNBUFFERED="1")
    for field, name in SETTING_ENV.items():
        env[name] = str(settings[field])
    return env


@pytest.fixture(scope="session")
def app_factory(settings):
    """Build a fresh Flask app from the factory with the session's settings.

    The test process then uses that app outside its requests too (direct service calls,
    queries, worker pings), as a worker process uses its own app outside its tasks, and
    the test's callers call it: a test that builds an app with other settings talks to it.
    """
    from app import create_app
    from app.extensions import bind_process

    def build(**overrides):
        app = closed_after_test(create_app(dict(settings, **overrides)))
        bind_process(app)
        _LATEST["app"] = app
        return app

    return build


_BUILT = []  # apps built during the running test
_LATEST = {}  # "app": the app `app_factory` built last


def closed_after_test(app):
    """`app`, whose database and broker connections are closed when the running test ends.

    Each app has its own engine and broker pools; closed, they reconnect on next use, so
    an app a longer-lived fixture keeps still works in the tests that follow.
    """
    _BUILT.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_built_apps():
    """Close the connections of every app the test built (a database server has few)."""
    yield
    from app.extensions import runtime_of

    while _BUILT:
        runtime_of(_BUILT.pop()).close()


@pytest.fixture(scope="session")
def worker(settings, app_factory, tmp_path_factory):
    """A real Celery worker process for the whole session (per database backend)."""
    from app.extensions import celery_app

    app_factory()  # configures the Celery app in this process, for pings
    proc = CeleryWorker("tasks", worker_env(settings),
                        tmp_path_factory.mktemp("worker") / "worker.log", prefix="test")
    proc.wait_ready(celery_app)
    yield proc
    proc.stop()


@pytest.fixture
def app(app_factory):
    """A fresh Flask app for this test."""
    return app_factory()


@pytest.fixture
def api_url(app):
    """The test app served over real HTTP on a free port (for the command and the bindings)."""
    with served(app) as url:
        yield url


def settled_readiness(client, until=lambda body: True, timeout: float = 30):
    """GET /readyz through `client` until a finished background round answers and
    `until(body)` holds; that response."""
    from app.services.readiness import FIRST_ROUND

    def answered():
        response = client.get("/readyz")
        body = response.get_json()
        return response if FIRST_ROUND not in body["reasons"] and until(body) else None

    return wait_until(answered, timeout, interval=0.05, message="a settled /readyz answer")


@pytest.fixture
def tenant():
    """A tenant of this test alone."""
    return f"t-{uuid.uuid4().hex[:10]}"


class Caller:
    """A Flask test client that sends the header identity of one actor.

    Given no client, it calls the app the test built last: the test's `app`, or the one
    the test built since with other settings.
    """

    def __init__(self, client, actor: str, roles: str, tenant: str):
        self._client = client
        self.headers = {"X-Actor": actor, "X-Roles": roles, "X-Tenant": tenant}

    @property
    def client(self):
        """The test client the next request goes through."""
        return self._client if self._client is not None else _LATEST["app"].test_client()

    @client.setter
    def client(self, client) -> None:
        self._client = client

    def __getattr__(self, method):
        def call(path, headers=None, **kwargs):
            return getattr(self.client, method)(path, headers={**self.headers,
                                                               **(headers or {})}, **kwargs)
        return call

    def submit(self, job_type: str, payload: dict, project: str = "proj", **extra):
        """POST /jobs and return the response."""
        return self.post("/jobs", json={"job_type": job_type, "payload": payload,
                                        "project": project, **extra})

    def wait_status(self, job_id: str, statuses, timeout: float = 30) -> dict:
        """Poll GET /jobs/{id} until its status is one of `statuses`; return the job."""
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)

        def reached():
            job = self.get(f"/jobs/{job_id}").get_json()
            return job if job["status"] in statuses else None

        return wait_until(reached, timeout, interval=0.05,
                          message=f"job {job_id} to reach {sorted(statuses)}")


@pytest.fixture
def caller(app, tenant):
    """Build callers with given roles in this test's tenant: `caller("operator")`.

    They call the app the test built last (`app`, unless the test built another since).
    """

    def make(roles: str = "viewer", actor: str = "alice", tenant_: str | None = None):
        return Caller(None, actor, roles, tenant_ or tenant)

    return make
