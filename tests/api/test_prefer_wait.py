"""`POST /jobs` with `Prefer: wait=N`: 200 with the ended job when it ends in time, else 202.

Run against the real worker: the wait is woken by the notification the worker publishes
after the commit that ends the job, so the request reads the job twice at most.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Job
from tests.harness import counted_sql as statements


def submit(who, job_type: str, payload: dict, prefer: str):
    """POST /jobs with a `Prefer` header."""
    return who.post("/jobs", json={"job_type": job_type, "payload": payload, "project": "p"},
                    headers={"Prefer": prefer})


def job_reads(sql: list[str]) -> int:
    return sum(1 for s in sql if s.lstrip().upper().startswith("SELECT") and "FROM jobs" in s)


def test_a_job_that_ends_in_time_answers_200_with_the_finished_job(caller, worker):
    alice = caller("viewer", actor="alice")

    response = submit(alice, "echo", {"message": "sync"}, "wait=30")

    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "wait=30"
    job = response.get_json()
    assert job["status"] == "completed"
    assert [entry["status"] for entry in job["timeline"]] == ["queued", "running", "completed"]
    assert alice.get(f"/jobs/{job['id']}/result").get_json()["result"] == {"message": "sync"}


def test_the_wait_is_woken_by_the_end_not_by_polling_the_database(caller, worker):
    alice = caller("viewer", actor="alice")

    with statements(db.engine) as seen:
        started = time.monotonic()
        response = submit(alice, "sleep", {"seconds": 2}, "respond-async, wait=20")
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.get_json()["status"] == "completed"
    assert elapsed < 15  # it answered on the end, long before the 20 s
    assert job_reads(seen["sql"]) <= 3  # one before the wait, one after it, the timeline


def test_a_job_still_running_after_n_seconds_answers_202_as_without_the_preference(
        caller, worker):
    alice = caller("viewer", actor="alice")

    started = time.monotonic()
    response = submit(alice, "sleep", {"seconds": 30}, "wait=1")
    elapsed = time.monotonic() - started

    try:
        assert response.status_code == 202
        assert "Preference-Applied" not in response.headers
        assert response.get_json()["status"] in ("queued", "running")
        assert 1 <= elapsed < 10
    finally:
        alice.post(f"/jobs/{response.get_json()['id']}/cancel")


def test_with_every_stream_slot_taken_the_submit_answers_202_without_waiting(
        app_factory, tenant, worker):
    from app.errors import Unavailable
    from app.services import job_streams
    from tests.conftest import Caller

    app = app_factory(stream_slots=1)
    alice = Caller(app.test_client(), "alice", "viewer", tenant)
    held = []  # every slot still free in this app, as other streams would hold them
    with app.app_context(), contextlib.suppress(Unavailable):
        while True:
            held.append(job_streams.slots().acquire())
    try:
        started = time.monotonic()
        response = submit(alice, "sleep", {"seconds": 30}, "wait=20")
        elapsed = time.monotonic() - started
    finally:
        for release in held:
            release()
    alice.post(f"/jobs/{response.get_json()['id']}/cancel")

    assert response.status_code == 202
    assert "Preference-Applied" not in response.headers
    assert elapsed < 10


@pytest.mark.parametrize("prefer", ["wait=61", "wait=0", "wait=soon", "wait=-1"])
def test_a_wait_out_of_bounds_is_refused_and_submits_nothing(caller, tenant, prefer):
    alice = caller("viewer", actor="alice")

    response = submit(alice, "echo", {"message": "x"}, prefer)

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_failed"
    assert "Prefer" in response.get_json()["error"]["details"]
    assert db.session.scalar(select(func.count()).select_from(Job)
                             .where(Job.tenant == tenant)) == 0
    db.session.remove()


def test_openapi_documents_the_preference(caller):
    spec = caller("viewer").get("/openapi.json").get_json()
    post = spec["paths"]["/jobs"]["post"]
    assert "Prefer" in [p["name"] for p in post.get("parameters", [])]
    assert "200" in post["responses"] and "202" in post["responses"]
