"""`POST /jobs`, `GET /jobs/{id}`, its result, cancel and retry, at the HTTP level."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

# SPEC §4 job fields; `artifacts` comes with the artifact store, not in this API yet.
JOB_FIELDS = {"id", "job_type", "status", "tenant", "project", "actor", "payload", "priority",
              "progress", "current_step", "attempts", "max_retries", "created_at",
              "started_at", "completed_at", "error", "timeline", "artifacts"}
EXTRA_JOB_FIELDS = {"cancel_requested"}
INTERNAL_FIELDS = {"idempotency_key", "request_fingerprint", "lease_expires_at",
                   "dispatched_at", "worker", "result", "updated_at"}


def parse_utc(value: str) -> dt.datetime:
    """An ISO 8601 time from the API, which must be UTC."""
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() == dt.timedelta(0), value
    return parsed


def listed_ids(owner) -> list[str]:
    """Ids of every job the owner's tenant has."""
    response = owner.get("/jobs", query_string={"limit": 500})
    assert response.status_code == 200
    return [job["id"] for job in response.get_json()["items"]]


# --- submit ---------------------------------------------------------------------------------


def test_submit_answers_202_queued_with_location_and_the_job(caller, tenant):
    alice = caller("viewer")
    before = dt.datetime.now(dt.UTC)

    response = alice.submit("echo", {"message": "hello"}, project="web")

    assert response.status_code == 202
    job = response.get_json()
    assert JOB_FIELDS <= set(job) and set(job) - JOB_FIELDS <= EXTRA_JOB_FIELDS
    assert not INTERNAL_FIELDS & set(job)
    assert response.headers["Location"] == f"/jobs/{job['id']}"
    assert "Idempotent-Replayed" not in response.headers
    assert uuid.UUID(job["id"])
    assert job["status"] == "queued"
    assert (job["job_type"], job["tenant"], job["project"], job["actor"]) == (
        "echo", tenant, "web", "alice")
    assert job["payload"] == {"message": "hello", "fail_times": 0}  # defaults filled in
    assert job["priority"] == 5
    assert (job["progress"], job["current_step"], job["attempts"]) == (0.0, None, 0)
    assert job["max_retries"] == 3  # echo's retry policy from the catalog
    assert before <= parse_utc(job["created_at"]) <= dt.datetime.now(dt.UTC)
    assert (job["started_at"], job["completed_at"], job["error"]) == (None, None, None)
    assert [(t["status"], t["attempt"]) for t in job["timeline"]] == [("queued", 0)]
    assert job["artifacts"] == []


def test_submit_location_serves_the_submitted_job(caller):
    alice = caller()
    response = alice.submit("echo", {"message": "hello"}, priority=9)

    shown = alice.get(response.headers["Location"])

    assert shown.status_code == 200
    assert shown.get_json()["id"] == response.get_json()["id"]
    assert shown.get_json()["priority"] == 9


REJECTED_BODIES = {
    "unknown job type": ({"job_type": "nope", "payload": {}, "project": "p"}, "job_type"),
    "missing job type": ({"payload": {}, "project": "p"}, "job_type"),
    "missing project": ({"job_type": "echo", "payload": {"message": "m"}}, "project"),
    "bad project name": ({"job_type": "echo", "payload": {"message": "m"}, "project": "a b"},
                         "project"),
    "priority above 9": ({"job_type": "echo", "payload": {"message": "m"}, "project": "p",
                          "priority": 10}, "priority"),
    "priority below 0": ({"job_type": "echo", "payload": {"message": "m"}, "project": "p",
                          "priority": -1}, "priority"),
    "priority not a number": ({"job_type": "echo", "payload": {"message": "m"},
                               "project": "p", "priority": "high"}, "priority"),
    "payload not an object": ({"job_type": "echo", "payload": "m", "project": "p"}, "payload"),
    "payload misses a field": ({"job_type": "echo", "payload": {}, "project": "p"}, "payload"),
    "payload field of wrong type": ({"job_type": "echo", "payload": {"message": 7},
                                     "project": "p"}, "payload"),
    "payload unknown field": ({"job_type": "echo", "payload": {"message": "m", "x": 1},
                               "project": "p"}, "payload"),
    "unknown body field": ({"job_type": "echo", "payload": {"message": "m"}, "project": "p",
                            "colour": "red"}, "colour"),
    "body sets status": ({"job_type": "echo", "payload": {"message": "m"}, "project": "p",
                          "status": "completed"}, "status"),
    "body sets tenant": ({"job_type": "echo", "payload": {"message": "m"}, "project": "p",
                          "tenant": "other"}, "tenant"),
    "body sets id": ({"job_type": "echo", "payload": {"message": "m"}, "project": "p",
                      "id": str(uuid.uuid4())}, "id"),
    "body sets actor": ({"job_type": "echo", "payload": {"message": "m"}, "project": "p",
                         "actor": "root"}, "actor"),
    "body is a list": ([{"job_type": "echo"}], "_schema"),
}


@pytest.mark.parametrize("body, field", REJECTED_BODIES.values(), ids=REJECTED_BODIES.keys())
def test_submit_rejects_invalid_body_with_422_field_errors_and_stores_nothing(
        caller, expect_error, published, body, field):
    alice = caller()

    error = expect_error(alice.post("/jobs", json=body), 422, "validation_failed")

    assert field in error["details"], error
    assert listed_ids(alice) == []
    assert published == []


def test_submit_invalid_payload_names_the_payload_fields(caller, expect_error):
    response = caller().submit("echo", {"fail_times": "x", "extra": 1})

    details = expect_error(response, 422, "validation_failed")["details"]

    assert set(details["payload"]) == {"message", "fail_times", "extra"}


def test_submit_unknown_job_type_lists_the_known_ones(caller, expect_error):
    details = expect_error(caller().submit("nope", {}), 422, "validation_failed")["details"]

    assert "echo" in details["job_type"][0]


def test_submit_over_max_content_length_is_413_and_stores_nothing(
        app, caller, expect_error, published):
    alice = caller()
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps({"job_type": "echo", "project": "p", "payload": {"message": "x" * limit}})

    response = alice.post("/jobs", data=body, content_type="application/json")

    expect_error(response, 413, "payload_too_large")
    assert listed_ids(alice) == []
    assert published == []


def test_submit_malformed_json_is_400_and_stores_nothing(caller, expect_error):
    alice = caller()

    response = alice.post("/jobs", data='{"job_type": "echo",', content_type="application/json")

    error = expect_error(response, 400, "bad_request")
    assert error["details"] == {"json": ["Invalid JSON body."]}
    assert listed_ids(alice) == []


def test_submit_non_json_body_is_422_missing_fields_and_stores_nothing(caller, expect_error):
    alice = caller()

    response = alice.post("/jobs", data="job_type=echo&project=p",
                          content_type="application/x-www-form-urlencoded")

    error = expect_error(response, 422, "validation_failed")
    assert {"job_type", "project"} <= set(error["details"])
    assert listed_ids(alice) == []


# --- show and result ------------------------------------------------------------------------


def test_get_job_shows_timeline_attempts_and_timestamps(caller, completed_job):
    alice = caller()
    done = completed_job(alice)

    job = alice.get(f"/jobs/{done['id']}").get_json()

    assert job["status"] == "completed"
    assert job["attempts"] == 1
    assert job["progress"] == 1.0
    assert [(t["status"], t["attempt"]) for t in job["timeline"]] == [
        ("queued", 0), ("running", 1), ("completed", 1)]
    times = [parse_utc(t["at"]) for t in job["timeline"]]
    assert times == sorted(times)
    created, started, completed = (parse_utc(job[k]) for k in
                                   ("created_at", "started_at", "completed_at"))
    assert created <= started <= completed


def test_get_missing_job_is_404(caller, expect_error):
    missing = str(uuid.uuid4())

    error = expect_error(caller().get(f"/jobs/{missing}"), 404, "not_found")

    assert error["details"] == {"id": missing}


def test_result_is_409_while_the_job_has_not_completed(caller, sleeping_job, expect_error):
    alice = caller()
    job = sleeping_job(alice)

    error = expect_error(alice.get(f"/jobs/{job['id']}/result"), 409, "conflict")

    assert error["details"]["status"] in {"queued", "running"}


def test_result_is_200_with_the_handler_result_once_completed(caller, completed_job):
    alice = caller()
    job = completed_job(alice, message="the answer")

    response = alice.get(f"/jobs/{job['id']}/result")

    assert response.status_code == 200
    assert response.get_json() == {"id": job["id"], "status": "completed",
                                   "result": {"message": "the answer"}}


def test_result_of_a_failed_job_is_409(caller, failed_job, expect_error):
    alice = caller()
    job = failed_job(alice)

    error = expect_error(alice.get(f"/jobs/{job['id']}/result"), 409, "conflict")

    assert error["details"] == {"status": "failed"}


# --- cancel and retry -----------------------------------------------------------------------


@pytest.mark.parametrize("method, suffix", [("post", "/cancel"), ("delete", "")])
def test_cancel_of_a_live_job_answers_202_and_the_job_ends_cancelled(
        caller, sleeping_job, method, suffix):
    alice = caller()
    job = sleeping_job(alice)

    response = getattr(alice, method)(f"/jobs/{job['id']}{suffix}")

    assert response.status_code == 202
    body = response.get_json()
    assert body["id"] == job["id"]
    assert body["status"] == "cancelled" or body["cancel_requested"] is True
    alice.wait_status(job["id"], "cancelled")


@pytest.mark.parametrize("method, suffix", [("post", "/cancel"), ("delete", "")])
def test_cancel_of_a_cancelled_job_is_409(caller, sleeping_job, expect_error, method, suffix):
    alice = caller()
    job = sleeping_job(alice)
    alice.post(f"/jobs/{job['id']}/cancel")
    alice.wait_status(job["id"], "cancelled")

    response = getattr(alice, method)(f"/jobs/{job['id']}{suffix}")

    assert expect_error(response, 409, "conflict")["details"] == {"status": "cancelled"}


@pytest.mark.parametrize("action", ["cancel", "retry"])
def test_cancel_or_retry_of_a_completed_job_is_409_and_changes_nothing(
        caller, completed_job, expect_error, action):
    alice = caller()
    job = completed_job(alice)

    response = alice.post(f"/jobs/{job['id']}/{action}")

    assert expect_error(response, 409, "conflict")["details"] == {"status": "completed"}
    assert alice.get(f"/jobs/{job['id']}").get_json() == job


def test_retry_of_a_live_job_is_409(caller, sleeping_job, expect_error):
    alice = caller()
    job = sleeping_job(alice)

    response = alice.post(f"/jobs/{job['id']}/retry")

    assert expect_error(response, 409, "conflict")["details"]["status"] in {"queued", "running"}


@pytest.mark.parametrize("method, suffix", [("post", "/cancel"), ("delete", ""),
                                            ("post", "/retry"), ("get", "/result")])
def test_job_actions_on_a_missing_job_are_404(caller, expect_error, method, suffix):
    response = getattr(caller(), method)(f"/jobs/{uuid.uuid4()}{suffix}")

    expect_error(response, 404, "not_found")


def test_retry_of_a_failed_job_answers_202_and_runs_it_again_as_a_new_attempt(worker, caller):
    alice = caller()
    # echo fails retryably on attempts 1..4; its budget (max_retries=3) allows 4 attempts.
    submitted = alice.submit("echo", {"message": "again", "fail_times": 4}).get_json()
    failed = alice.wait_status(submitted["id"], "failed")
    assert failed["attempts"] == 4
    assert failed["error"]["attempt"] == 4

    response = alice.post(f"/jobs/{failed['id']}/retry")

    assert response.status_code == 202
    queued = response.get_json()
    assert (queued["status"], queued["error"], queued["completed_at"]) == ("queued", None, None)
    last = queued["timeline"][-1]  # the state shown, though a worker may already be ahead
    assert (last["status"], last["attempt"], last["detail"]) == ("queued", 4, "retried by alice")
    done = alice.wait_status(failed["id"], "completed")
    assert done["attempts"] == 5
    assert [(t["status"], t["attempt"]) for t in done["timeline"][-3:]] == [
        ("queued", 4), ("running", 5), ("completed", 5)]
    result = alice.get(f"/jobs/{failed['id']}/result").get_json()["result"]
    assert result == {"message": "again"}
