"""Tenant B on each of tenant A's objects, through every route that names one: 404, as if missing.

Generated from the registered routes (`tests/auth/routes.py`), so an object route added
later is covered at once. B is an admin, the strongest role, and the answer must be the
body a missing id gets (apart from request id and the id itself), with nothing changed.
"""

from __future__ import annotations

import itertools
import json

import pytest

from tests.auth.conftest import bearer
from tests.auth.routes import missing_ids, routes


@pytest.fixture
def owner_objects(admin, make_key, sleeping_job, failed_job):
    """Tenant A's objects by path argument: a live job, a failed job, a live API key, itself,
    an artifact."""
    alice = admin.__class__(admin.client, "alice", "viewer", admin.headers["X-Tenant"])
    key, _ = make_key(actor="alice")
    return {"job_id": [sleeping_job(alice)["id"], failed_job(alice)["id"]],
            "key_id": [key["id"]], "tenant": [admin.headers["X-Tenant"]], "job_type": ["echo"],
            "artifact_id": [admin.post("/artifacts", json={"name": "a", "type": "t",
                                                          "content": "Ynl0ZXM="}).get_json()["id"]]}


def state(admin, objects: dict) -> dict:
    """Everything tenant A's admin can see of its objects."""
    return {
        "jobs": [admin.get(f"/jobs/{job_id}").get_json() for job_id in objects["job_id"]],
        "keys": admin.get("/api-keys", query_string={"include_revoked": "true"}).get_json(),
        "quotas": admin.get("/quotas").get_json(),
        "artifacts": [admin.get(f"/artifacts/{a}/versions").get_json() | {"artifact": admin.get(
            f"/artifacts/{a}").get_json()} for a in objects["artifact_id"]],
    }


# What the worker changes on a live job while the test runs; the rest only a request could.
WORKER_FIELDS = {"status", "started_at", "attempts", "timeline", "progress", "current_step",
                 "completed_at", "result", "error"}


def comparable(response, ids: dict) -> dict:
    """The error body without its request id, the ids asked replaced by their names."""
    text = response.get_data(as_text=True)
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    body = json.loads(text)
    body["error"].pop("request_id")
    return body


def test_tenant_b_gets_404_exactly_as_for_a_missing_id(keys_app, admin, owner_objects, tenant,
                                                       expect_error):
    outsider = admin.__class__(keys_app.test_client(), "ada", "admin", f"{tenant}-b")
    object_routes = [r for r in routes(keys_app) if r.arguments]
    assert {str(r) for r in object_routes} >= {"GET /jobs/<job_id>", "POST /jobs/<job_id>/retry",
                                               "DELETE /api-keys/<key_id>"}
    for route in object_routes:
        unknown = set(route.arguments) - set(owner_objects)
        assert not unknown, f"{route}: add a tenant-A object for {sorted(unknown)}"
    before = state(admin, owner_objects)

    for route in object_routes:
        for combination in itertools.product(*(owner_objects[a] for a in route.arguments)):
            ids = dict(zip(route.arguments, combination, strict=True))
            foreign = route.call(outsider, ids)
            absent_ids = missing_ids(route)
            absent = route.call(outsider, absent_ids)

            expect_error(foreign, 404, "not_found")
            expect_error(absent, 404, "not_found")
            assert comparable(foreign, ids) == comparable(absent, absent_ids), route

    after = state(admin, owner_objects)
    for job_before, job_after in zip(before["jobs"], after["jobs"], strict=True):
        if job_before["status"] in {"queued", "running"}:  # the worker moves the live job on
            assert job_after["status"] != "cancelled" and not job_after["cancel_requested"]
            job_before, job_after = ({k: v for k, v in j.items() if k not in WORKER_FIELDS}
                                     for j in (job_before, job_after))
        assert job_after == job_before
    assert after["keys"] == before["keys"]
    assert after["quotas"] == before["quotas"]
    assert after["artifacts"] == before["artifacts"]


def test_a_tenant_b_api_key_sees_none_of_tenant_a(keys_app, admin, make_key, tenant,
                                                  expect_error):
    job_id = admin.submit("echo", {"message": "m"}).get_json()["id"]
    outsider_admin = admin.__class__(keys_app.test_client(), "bob", "admin", f"{tenant}-b")
    key = outsider_admin.post("/api-keys", json={"name": "b", "roles": ["admin"]}).get_json()
    outsider = bearer(keys_app.test_client(), key["key"])

    expect_error(outsider.get(f"/jobs/{job_id}"), 404, "not_found")
    assert outsider.get("/jobs").get_json()["items"] == []
    assert outsider.get("/events").get_json()["items"] == []
    assert [k["id"] for k in outsider.get("/api-keys").get_json()["items"]] == [key["id"]]
    assert admin.get(f"/jobs/{job_id}").status_code == 200
