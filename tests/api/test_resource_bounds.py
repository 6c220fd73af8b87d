"""Resource bounds: body size (413), page size (422), payload size per job type (422), log lines."""

from __future__ import annotations

import json

import pytest

from app.services import job_runs
from tests.conftest import Caller


def listed(owner) -> list[dict]:
    return owner.get("/jobs").get_json()["items"]


def test_a_body_over_the_configured_limit_is_413_payload_too_large(
        app_factory, tenant, expect_error):
    client = app_factory(max_content_length=4096).test_client()
    alice = Caller(client, "alice", "viewer", tenant)

    def body(size: int) -> str:
        padding = size - len(json.dumps({"job_type": "echo", "project": "p",
                                         "payload": {"message": ""}}))
        return json.dumps({"job_type": "echo", "project": "p",
                           "payload": {"message": "x" * padding}})

    error = expect_error(alice.post("/jobs", data=body(4097), content_type="application/json"),
                         413, "payload_too_large")

    assert "exceeds" in error["message"]
    assert listed(alice) == []
    fits = alice.post("/jobs", data=body(4096), content_type="application/json")
    assert fits.status_code == 202


@pytest.mark.parametrize("path", ["/jobs", "/events"])
def test_a_page_over_500_items_is_422(caller, expect_error, path):
    admin = caller("admin")

    assert admin.get(path, query_string={"limit": 500}).status_code == 200
    error = expect_error(admin.get(path, query_string={"limit": 501}), 422,
                         "validation_failed")
    assert "limit" in error["details"]


def test_a_payload_over_its_job_type_limit_is_422_and_stores_nothing(
        app, caller, expect_error, published):
    from app.extensions import runtime

    alice = caller()
    limit = runtime.catalog["plan-build"].max_payload_bytes
    targets = {f"t{n:05d}": {"cost": 1} for n in range(limit // 15)}
    body = {"job_type": "plan-build", "project": "p", "payload": {"targets": targets}}
    assert limit < len(json.dumps(body)) < app.config["MAX_CONTENT_LENGTH"]

    error = expect_error(alice.post("/jobs", json=body), 422, "validation_failed")

    assert error["message"] == "payload too large for this job type"
    assert error["details"]["payload"] == [
        f"{len(json.dumps(body['payload'], separators=(',', ':')))} bytes; at most {limit}"]
    assert listed(alice) == []
    assert published == []


def test_log_lines_are_cut_at_max_log_line(app_factory):
    app_factory(max_log_line=16)

    entry = job_runs.log_entry("job-1", 1, "0123456789" * 5)

    assert entry["message"] == "0123456789012345…[truncated]"
    assert job_runs.log_entry("job-1", 1, "short")["message"] == "short"
