"""Two apps in one process: each keeps its own database, broker, catalog and settings.

Each app publishes through its own Celery app to its own redis-server and writes to its
own SQLite file; building the second changes nothing the first does, and building
either binds nothing for the process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.errors import Unavailable
from app.extensions import runtime, runtime_of
from app.factory import create_app
from app.migrate import upgrade
from app.models import Job
from app.services import job_streams
from config.settings import Settings
from tests.conftest import TEST_SETTINGS, closed_after_test, settled_readiness
from tests.harness import RedisServer, redis_copies

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"X-Actor": "alice", "X-Roles": "viewer", "X-Tenant": "two-apps"}
ECHO = {"job_type": "echo", "payload": {"message": "hello"}, "project": "p"}


class Stack:
    """What one app is given: a migrated SQLite file, a redis-server, an object folder."""

    def __init__(self, folder: Path, **settings):
        folder.mkdir()
        self.redis = RedisServer(folder)
        self.database_url = f"sqlite:///{folder / 'taskplane.db'}"
        upgrade(self.database_url)
        self.settings = dict(TEST_SETTINGS, database_url=self.database_url,
                             broker_url=self.redis.url(0), redis_url=self.redis.url(0),
                             storage_url=f"file://{folder / 'objects'}",
                             worker_ping_timeout=0.2, **settings)

    def job_ids(self) -> set[str]:
        """The ids of every job in this stack's database, read past any app."""
        engine = create_engine(self.database_url)
        try:
            with Session(engine) as session:
                return set(session.scalars(select(Job.id)))
        finally:
            engine.dispose()

    def messages(self, job_id: str) -> int:
        """How many messages of `job_id` this stack's broker holds."""
        return sum(redis_copies(self.redis.client, job_id).values())


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    """Two stacks that differ in catalog, request size, stream slots and auth modes."""
    folder = tmp_path_factory.mktemp("two-apps")
    built = []
    try:
        built.append(Stack(folder / "a", auth_modes=("headers",), stream_slots=1))
        built.append(Stack(folder / "b", auth_modes=("headers", "apikey"), stream_slots=7,
                           max_content_length=2048, command_types_file=""))
        yield built
    finally:
        for stack in built:
            stack.redis.stop()


def build(settings: dict):
    """An app from the factory alone (the test fixture's would bind it for the process)."""
    return closed_after_test(create_app(settings))


def outside_runtime():
    """The runtime this process uses outside any app context (None when it bound none)."""
    try:
        return runtime._get_current_object()
    except RuntimeError:
        return None


def submit(app) -> str:
    """Submit an echo job through `app`'s test client; its id."""
    response = app.test_client().post("/jobs", json=ECHO, headers=HEADERS)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def observed(app) -> dict:
    """What a client of `app` sees of its settings and catalog."""
    client = app.test_client()
    job_types = client.get("/job-types", headers=HEADERS).get_json()["items"]
    big = dict(ECHO, payload={"message": "x" * 3000})
    bearer = dict(HEADERS, Authorization="Bearer tp_not-a-key")
    readyz = settled_readiness(client).get_json()
    return {
        "job_types": sorted(entry["name"] for entry in job_types),
        "big_body_status": client.post("/jobs", json=big, headers=HEADERS).status_code,
        "api_key_answer": client.get("/jobs", headers=bearer).get_json()["error"]["message"],
        "security_schemes": sorted(client.get("/openapi.json").get_json()["components"]
                                   ["securitySchemes"]),
        "stream_slots": readyz["streams"]["slots"],
        "broker": readyz["checks"]["broker"]["status"],
    }


def test_two_apps_keep_their_own_database_broker_and_settings(stacks):
    stack_a, stack_b = stacks
    process_own = outside_runtime()
    app_a = build(stack_a.settings)
    first_job_a = submit(app_a)
    seen_a = observed(app_a)

    app_b = build(stack_b.settings)  # built while the first one is in use
    assert outside_runtime() is process_own  # building an app binds nothing for the process
    job_a, job_b = submit(app_a), submit(app_b)

    assert stack_a.job_ids() >= {first_job_a, job_a} and job_b not in stack_a.job_ids()
    assert job_b in stack_b.job_ids() and not {first_job_a, job_a} & stack_b.job_ids()
    assert stack_a.messages(job_a) == 1 and stack_b.messages(job_a) == 0
    assert stack_b.messages(job_b) == 1 and stack_a.messages(job_b) == 0

    assert observed(app_a) == seen_a  # the second app changed nothing the first does
    seen_b = observed(app_b)
    assert "py-lines" in seen_a["job_types"] and "py-lines" not in seen_b["job_types"]
    assert seen_a["big_body_status"] != 413 and seen_b["big_body_status"] == 413
    assert seen_a["api_key_answer"] == "bearer credentials of a mode not enabled"
    assert seen_b["api_key_answer"] == "invalid, revoked or expired API key"
    assert len(seen_b["security_schemes"]) > len(seen_a["security_schemes"])
    assert (seen_a["stream_slots"], seen_b["stream_slots"]) == (1, 7)
    assert seen_a["broker"] == seen_b["broker"] == "ok"


def test_code_in_an_app_context_reads_that_app_s_own(stacks):
    stack_a, stack_b = stacks
    app_a, app_b = build(stack_a.settings), build(stack_b.settings)
    with app_a.app_context():
        assert runtime.settings.database_url == stack_a.database_url
        with app_b.app_context():  # the innermost context wins, as for `current_app`
            assert runtime._get_current_object() is runtime_of(app_b)
            assert runtime.settings.max_content_length == 2048
        assert runtime._get_current_object() is runtime_of(app_a)
        assert runtime.settings.max_content_length == Settings().max_content_length
    assert runtime_of(app_a).celery is not runtime_of(app_b).celery
    assert runtime_of(app_a).db.engine.url != runtime_of(app_b).db.engine.url


def test_each_app_counts_its_own_open_streams(stacks):
    stack_a, stack_b = stacks
    app_a, app_b = build(stack_a.settings), build(stack_b.settings)
    with app_a.app_context():
        release_a = job_streams.slots().acquire()  # app A's only slot
    try:
        with app_b.app_context():  # B's streams are not A's: it still has all 7
            releases_b = [job_streams.slots().acquire() for _ in range(7)]
        open_a = app_a.test_client().get("/readyz").get_json()["streams"]["open"]
        open_b = app_b.test_client().get("/readyz").get_json()["streams"]["open"]
        assert (open_a, open_b) == (1, 7)
        with app_a.app_context(), pytest.raises(Unavailable):
            job_streams.slots().acquire()
        for release in releases_b:
            release()
    finally:
        release_a()
    assert app_a.test_client().get("/readyz").get_json()["streams"]["open"] == 0


def test_importing_the_server_reads_no_setting_and_binds_nothing():
    # An unparseable setting would stop the import if any module read settings there.
    env = dict(os.environ, TASKPLANE_MAX_CONTENT_LENGTH="not-a-number")
    code = ("import app.factory, tasks.runner\n"
            "from app.extensions import db\n"
            "try:\n"
            "    db.session\n"
            "except RuntimeError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "outside an app context" in done.stdout
