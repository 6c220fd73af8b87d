"""Shared pieces of the API tests: the error envelope, message counting, jobs in known states."""

from __future__ import annotations

import pytest
from celery.signals import after_task_publish

ENVELOPE_FIELDS = {"code", "message", "details", "request_id"}


@pytest.fixture
def expect_error():
    """`expect_error(response, status, code)`: assert the shared error envelope; return `error`."""

    def check(response, status: int, code: str) -> dict:
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        body = response.get_json()
        assert set(body) == {"error"}, body
        error = body["error"]
        assert set(error) == ENVELOPE_FIELDS, error
        assert error["code"] == code, error
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["details"], dict), error
        assert error["request_id"] == response.headers["X-Request-ID"]
        return error

    return check


@pytest.fixture
def published():
    """Ids of the task messages this process publishes during the test (Celery's own signal)."""
    ids: list[str] = []

    def record(headers=None, **_):
        ids.append((headers or {}).get("id"))

    after_task_publish.connect(record, weak=False)
    yield ids
    after_task_publish.disconnect(record)


@pytest.fixture
def sleeping_job():
    """`sleeping_job(owner)`: submit a long `sleep` job; every one is cancelled at teardown."""
    submitted = []

    def submit(owner) -> dict:
        response = owner.submit("sleep", {"seconds": 30})
        assert response.status_code == 202, response.get_json()
        job = response.get_json()
        submitted.append((owner, job["id"]))
        return job

    yield submit
    for owner, job_id in submitted:  # never leave a worker slot busy for the next test
        owner.post(f"/jobs/{job_id}/cancel")


@pytest.fixture
def completed_job(worker):
    """`completed_job(owner, message="hi")`: an `echo` job run to completion by the worker."""

    def make(owner, message: str = "hi") -> dict:
        response = owner.submit("echo", {"message": message})
        assert response.status_code == 202, response.get_json()
        return owner.wait_status(response.get_json()["id"], "completed")

    return make


@pytest.fixture
def failed_job(worker):
    """`failed_job(owner)`: a `py-exit` job (no retries) that the worker ran and failed."""

    def make(owner) -> dict:
        response = owner.submit("py-exit", {"status": 3})
        assert response.status_code == 202, response.get_json()
        return owner.wait_status(response.get_json()["id"], "failed")

    return make
