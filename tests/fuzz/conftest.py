"""The stack the fuzz gates call: gunicorn as the Procfile starts it, beside the worker."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import worker_env
from tests.harness import Gunicorn, http_request, wait_until


def identity(stack) -> dict[str, str]:
    """The fuzzing identity of this stack: an admin of a tenant of the test's own.

    A gate run may set that tenant's quotas to anything; the next test starts clean.
    """
    return {"X-Actor": "fuzz", "X-Roles": "admin", "X-Tenant": stack.tenant}


@pytest.fixture
def stack(settings, worker, tmp_path):
    """gunicorn (two workers, the Procfile's settings) beside the session's worker."""
    # The built-in job types only (no test command that hangs for minutes); streams short.
    env = dict(worker_env(settings), TASKPLANE_COMMAND_TYPES="",
               TASKPLANE_STREAM_MAX_SECONDS="2",
               TASKPLANE_STORAGE_URL=f"file://{tmp_path / 'objects'}")
    server = Gunicorn("app:create_app()", env, tmp_path / "gunicorn.log", workers=2)
    server.tenant = f"t-fuzz-{uuid.uuid4().hex[:8]}"
    yield server
    server.stop()


def call(stack, method: str, path: str, body: dict | None = None) -> dict:
    """One JSON call as the fuzzing identity; the answer's body."""
    status, answer = http_request(stack.port, method, path,
                                  None if body is None else json.dumps(body).encode(),
                                  {**identity(stack), "Content-Type": "application/json"})
    assert status < 300, answer
    return json.loads(answer)


def known_objects(stack) -> dict[str, list[str]]:
    """A finished job, a running one, an artifact with content and an API key, by path name."""
    done = call(stack, "POST", "/jobs", {"job_type": "echo", "project": "fuzz",
                                         "payload": {"message": "hi"}})
    running = call(stack, "POST", "/jobs", {"job_type": "sleep", "project": "fuzz",
                                            "payload": {"seconds": 120}})
    wait_until(lambda: call(stack, "GET", f"/jobs/{done['id']}")["status"] == "completed",
               60, interval=0.1, message="the echo job")
    artifact = call(stack, "POST", "/artifacts", {"name": "a.txt", "type": "doc",
                                                  "content": "aGVsbG8=",
                                                  "content_type": "text/plain"})
    key = call(stack, "POST", "/api-keys", {"name": "fuzz", "roles": ["viewer"]})
    return {"job_id": [done["id"], running["id"]], "artifact_id": [artifact["id"]],
            "key_id": [key["id"]]}


