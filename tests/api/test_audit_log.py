"""The audit hook: exactly one record per mutating or denied call, none per successful read."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from sqlalchemy import insert, select

from app.auth import Permission, requires
from app.extensions import db
from app.models import AuditRecord, GovernanceEvent, Job
from app.services import audit
from tests.conftest import Caller


@pytest.fixture
def audit_rows():
    """`audit_rows(request_id)`: the stored audit records of one request, as dicts."""

    def rows(request_id: str) -> list[dict]:
        stmt = select(AuditRecord).where(AuditRecord.request_id == request_id)
        found = [{name: getattr(r, name) for name in audit.FIELDS}
                 for r in db.session.scalars(stmt)]
        db.session.remove()
        return found

    return rows


def rid() -> str:
    """A fresh request id, sent as `X-Request-ID` so the test can find its record."""
    return f"req-{uuid.uuid4().hex}"


def submit(who, payload: dict, job_type: str = "echo", **headers):
    """POST /jobs as `who` with extra headers."""
    return who.post("/jobs", json={"job_type": job_type, "payload": payload, "project": "proj"},
                    headers=headers)


def only(rows: list[dict]) -> dict:
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture
def alice(caller):
    return caller("viewer", actor="alice")


def test_submit_is_one_allowed_record_with_the_callers_facts(alice, audit_rows, tenant):
    request_id = rid()
    response = submit(alice, {"message": "hi"}, **{"X-Request-ID": request_id,
                                                    "X-Reason": "ticket-42"})
    assert response.status_code == 202

    row = only(audit_rows(request_id))

    assert row["request_id"] == response.headers["X-Request-ID"] == request_id
    assert (row["actor"], row["roles"], row["tenant"], row["reason"]) == (
        "alice", ["viewer"], tenant, "ticket-42")
    assert (row["action"], row["target"], row["outcome"], row["status"], row["method"]) == (
        "jobs.submit", response.get_json()["id"], "allowed", 202, "POST")
    assert row["source"] == "127.0.0.1"
    assert row["at"].utcoffset().total_seconds() == 0


@pytest.mark.parametrize("method, path, action", [
    ("post", "/jobs/{id}/cancel", "jobs.cancel"),
    ("delete", "/jobs/{id}", "jobs.cancel"),
])
def test_cancel_is_one_allowed_record_targeting_the_job(alice, sleeping_job, audit_rows,
                                                        method, path, action):
    job = sleeping_job(alice)
    request_id = rid()

    response = getattr(alice, method)(path.format(id=job["id"]),
                                      headers={"X-Request-ID": request_id})

    assert response.status_code == 202
    row = only(audit_rows(request_id))
    assert (row["action"], row["target"], row["outcome"], row["status"]) == (
        action, job["id"], "allowed", 202)
    assert row["reason"] == "unspecified"


def test_retry_and_a_conflicting_retry_are_one_record_each(alice, sleeping_job, audit_rows):
    job = sleeping_job(alice)
    assert alice.post(f"/jobs/{job['id']}/cancel").status_code == 202
    alice.wait_status(job["id"], "cancelled")  # a worker may have started it: cancel lands later
    first, second = rid(), rid()

    assert alice.post(f"/jobs/{job['id']}/retry", headers={"X-Request-ID": first}).status_code \
        == 202
    assert alice.post(f"/jobs/{job['id']}/retry", headers={"X-Request-ID": second}).status_code \
        == 409

    assert [(r["action"], r["target"], r["outcome"], r["status"]) for r in audit_rows(first)] \
        == [("jobs.retry", job["id"], "allowed", 202)]
    assert [(r["action"], r["target"], r["outcome"], r["status"]) for r in audit_rows(second)] \
        == [("jobs.retry", job["id"], "failed", 409)]


def test_invalid_submit_is_one_failed_record_and_changes_nothing_else(alice, caller, audit_rows):
    request_id = rid()

    response = submit(alice, {"message": 5}, **{"X-Request-ID": request_id})

    assert response.status_code == 422
    row = only(audit_rows(request_id))
    assert (row["action"], row["target"], row["outcome"], row["status"]) == (
        "jobs.submit", None, "failed", 422)
    assert alice.get("/jobs").get_json()["items"] == []
    assert caller("operator", actor="olga").get("/events").get_json()["items"] == []


def test_no_credentials_is_one_denied_record_without_a_principal(app, audit_rows):
    request_id = rid()

    response = app.test_client().post("/jobs", json={"job_type": "echo", "project": "p"},
                                      headers={"X-Request-ID": request_id})

    assert response.status_code == 401
    row = only(audit_rows(request_id))
    assert (row["actor"], row["roles"], row["tenant"], row["reason"]) == (
        None, [], None, "unspecified")
    assert (row["action"], row["outcome"], row["status"], row["source"]) == (
        "jobs.submit", "denied", 401, "127.0.0.1")


def test_viewer_cancelling_anothers_job_is_one_denied_record(alice, caller, sleeping_job,
                                                             audit_rows, tenant):
    job = sleeping_job(alice)
    request_id = rid()

    response = caller("viewer", actor="bob").post(f"/jobs/{job['id']}/cancel",
                                                  headers={"X-Request-ID": request_id})

    assert response.status_code == 403
    row = only(audit_rows(request_id))
    assert (row["actor"], row["tenant"], row["action"], row["target"], row["outcome"],
            row["status"]) == ("bob", tenant, "jobs.cancel", job["id"], "denied", 403)
    after = alice.get(f"/jobs/{job['id']}").get_json()  # a worker may have started it, no more
    assert (after["status"] in ("queued", "running"), after["cancel_requested"]) == (True, False)


def test_viewer_reading_the_audit_log_is_one_denied_record(alice, audit_rows):
    request_id = rid()

    assert alice.get("/audit", headers={"X-Request-ID": request_id}).status_code == 403

    row = only(audit_rows(request_id))
    assert (row["action"], row["outcome"], row["status"], row["method"]) == (
        "audit.list", "denied", 403, "GET")


def test_foreign_tenant_cancel_is_one_denied_404_in_the_callers_tenant(
        alice, caller, sleeping_job, audit_rows, tenant):
    job = sleeping_job(alice)
    other = f"{tenant}-b"
    request_id = rid()

    response = caller("operator", actor="mallory", tenant_=other).post(
        f"/jobs/{job['id']}/cancel", headers={"X-Request-ID": request_id})

    assert response.status_code == 404
    row = only(audit_rows(request_id))
    assert (row["actor"], row["tenant"], row["action"], row["target"], row["outcome"],
            row["status"]) == ("mallory", other, "jobs.cancel", job["id"], "denied", 404)
    own_log = caller("operator", actor="olga").get("/audit").get_json()["items"]
    assert request_id not in {r["request_id"] for r in own_log}
    after = alice.get(f"/jobs/{job['id']}").get_json()  # a worker may have started it, no more
    assert (after["status"] in ("queued", "running"), after["cancel_requested"]) == (True, False)


def test_oversized_submit_is_one_failed_record(app, alice, audit_rows):
    request_id = rid()
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    response = submit(alice, {"message": too_big}, **{"X-Request-ID": request_id})

    assert response.status_code == 413
    row = only(audit_rows(request_id))
    assert (row["action"], row["outcome"], row["status"]) == ("jobs.submit", "failed", 413)
    assert alice.get("/jobs").get_json()["items"] == []


@pytest.mark.parametrize("method, path, status, outcome", [
    ("post", "/no-such-thing", 404, "denied"),
    ("get", "/no-such-thing", 404, "denied"),
    ("patch", "/jobs", 405, "failed"),
])
def test_a_call_matching_no_route_is_one_unrouted_record(alice, audit_rows, method, path,
                                                         status, outcome):
    request_id = rid()

    response = getattr(alice, method)(path, headers={"X-Request-ID": request_id})

    assert response.status_code == status
    row = only(audit_rows(request_id))
    assert (row["action"], row["target"], row["outcome"], row["status"]) == (
        "unrouted", None, outcome, status)


def test_successful_reads_write_no_record_a_missing_job_writes_one(alice, caller, audit_rows):
    job_id = alice.submit("echo", {"message": "x"}).get_json()["id"]
    operator = caller("operator", actor="olga")
    reads = [(alice, "/jobs"), (alice, f"/jobs/{job_id}"), (alice, f"/jobs/{job_id}/logs"),
             (alice, "/job-types"), (operator, "/events"), (operator, "/audit")]
    for who, path in reads:
        request_id = rid()
        assert who.get(path, headers={"X-Request-ID": request_id}).status_code == 200, path
        assert audit_rows(request_id) == [], path

    request_id = rid()
    assert alice.get(f"/jobs/{uuid.uuid4()}", headers={"X-Request-ID": request_id}
                     ).status_code == 404
    assert only(audit_rows(request_id))["action"] == "jobs.read"


def test_no_credential_or_payload_is_stored_or_logged(alice, app, audit_rows, caplog):
    marker, token = "zebra-unicorn-4242", "secret-bearer-7f3a9c"
    secret_headers = {"Authorization": f"Bearer {token}", "X-Api-Key": f"tp_{token}"}
    ids = [rid(), rid()]
    caplog.set_level(logging.INFO, logger="taskplane.audit")

    assert submit(alice, {"message": marker},
                  **{"X-Request-ID": ids[0], "X-Api-Key": secret_headers["X-Api-Key"]}
                  ).status_code == 202
    assert app.test_client().post("/jobs", json={"payload": {"message": marker}},
                                  headers={"X-Request-ID": ids[1], **secret_headers}
                                  ).status_code == 401

    rows = [only(audit_rows(request_id)) for request_id in ids]
    stored = json.dumps(rows, default=str) + caplog.text
    assert ids[0] in caplog.text and ids[1] in caplog.text  # the log lines were written
    assert marker not in stored
    assert token not in stored


def test_rate_limited_call_is_one_denied_record(app_factory, audit_rows, tenant):
    alice = Caller(app_factory(rate_limit_submit="1/minute").test_client(), "alice", "viewer",
                   tenant)
    assert submit(alice, {"message": "first"}).status_code == 202
    request_id = rid()

    response = submit(alice, {"message": "second"}, **{"X-Request-ID": request_id})

    assert response.status_code == 429
    row = only(audit_rows(request_id))
    assert (row["actor"], row["tenant"], row["action"], row["outcome"], row["status"]) == (
        "alice", tenant, "jobs.submit", "denied", 429)


def test_crashing_call_is_one_failed_record_and_its_uncommitted_write_is_not_kept(
        app, caller, audit_rows, tenant):
    @requires(Permission.SUBMIT)
    def crash():
        db.session.execute(insert(GovernanceEvent.__table__),
                           [{"type": "probe", "tenant": tenant, "data": {}}])
        raise RuntimeError("boom")

    app.add_url_rule("/probe-crash", "probe_crash", crash, methods=["POST"])
    request_id = rid()

    response = caller("viewer", actor="alice").post("/probe-crash",
                                                    headers={"X-Request-ID": request_id})

    assert response.status_code == 500
    row = only(audit_rows(request_id))
    assert (row["action"], row["outcome"], row["status"]) == ("probe_crash.create", "failed", 500)
    kept = db.session.scalars(select(GovernanceEvent).where(GovernanceEvent.tenant == tenant))
    assert list(kept) == []
    db.session.remove()


def test_a_record_that_cannot_be_stored_leaves_the_answer_and_is_logged_in_full(
        alice, monkeypatch, caplog, sleeping_job):
    job_id = sleeping_job(alice)["id"]

    def unavailable(entry):
        raise OSError("database unavailable")

    monkeypatch.setattr(audit, "record", unavailable)
    request_id = rid()

    response = alice.post(f"/jobs/{job_id}/cancel", headers={"X-Request-ID": request_id})

    assert response.status_code == 202
    failures = [r for r in caplog.records
                if r.name == "taskplane.audit" and r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert "NOT stored" in failures[0].getMessage()
    assert request_id in failures[0].getMessage()
    assert job_id in failures[0].getMessage()


def test_an_accepted_submit_commits_its_audit_record_with_the_job(
        alice, audit_rows, tenant, monkeypatch):
    def unavailable(session, entry):
        raise OSError("database unavailable")

    monkeypatch.setattr(audit, "stage", unavailable)
    request_id = rid()

    response = submit(alice, {"message": "x"}, **{"X-Request-ID": request_id})

    assert response.status_code == 500  # no record, no job: they commit together or not at all
    assert db.session.scalars(select(Job).where(Job.tenant == tenant)).all() == []
    db.session.remove()
    monkeypatch.undo()
    request_id = rid()
    response = submit(alice, {"message": "y"}, **{"X-Request-ID": request_id})
    assert response.status_code == 202
    row = only(audit_rows(request_id))
    assert (row["target"], row["outcome"]) == (response.get_json()["id"], "allowed")
