"""The role matrix: every route × every role, expected from the permission table, asked of the API.

Expected answers come from the code's tables alone: the permission each route declares
(`app.auth.requires`) and `ROLE_PERMISSIONS`. Allowed → anything but 403; denied → 403
and the tenant's jobs, keys, events, quotas and artifacts exactly as before.
"""

from __future__ import annotations

import uuid

import pytest

from app.auth import ROLE_PERMISSIONS, Permission, requires
from tests.auth.routes import routes

ROLES = sorted(ROLE_PERMISSIONS)
OBJECT_ARGUMENTS = {"job_id", "key_id", "tenant", "job_type", "artifact_id"}


def test_every_route_declares_a_permission(app):
    found = routes(app)
    undeclared = [str(r) for r in found if r.permission is None]

    assert undeclared == [], "declare each with @requires(Permission.X) on the view method"
    assert {"GET /jobs", "POST /jobs", "DELETE /api-keys/<key_id>"} <= {str(r) for r in found}


def test_a_route_without_a_declared_permission_is_refused(app, caller, expect_error):
    @app.get("/undeclared")
    def undeclared():
        return "should never be served"

    @app.get("/declared")
    @requires(Permission.READ)
    def declared():
        return "served"

    error = expect_error(caller("admin").get("/undeclared"), 403, "forbidden")
    assert error["details"] == {"endpoint": "undeclared"}
    assert caller("viewer").get("/declared").get_data(as_text=True) == "served"


def make_objects(caller, tenant: str, route) -> dict:
    """One object of each kind the route's path names, in `tenant`, owned by alice."""
    unknown = set(route.arguments) - OBJECT_ARGUMENTS
    assert not unknown, f"{route}: teach make_objects to create a {sorted(unknown)}"
    alice = caller("viewer", actor="alice", tenant_=tenant)
    job = alice.submit("echo", {"message": "m"}).get_json()
    alice.post(f"/jobs/{job['id']}/cancel")  # terminal at once, or soon: streams end
    alice.wait_status(job["id"], ("cancelled", "completed", "failed"))
    key = caller("admin", actor="ada", tenant_=tenant).post(
        "/api-keys", json={"name": "k", "roles": ["viewer"]}).get_json()
    artifact = caller("publisher", actor="pat", tenant_=tenant).post(
        "/artifacts", json={"name": "a", "type": "t", "content": "Ynl0ZXM="}).get_json()
    return {"job_id": job["id"], "key_id": key["id"], "tenant": tenant, "job_type": "echo",
            "artifact_id": artifact["id"]}


def snapshot(caller, tenant: str) -> dict:
    """Everything a route could change in `tenant`, as its admin sees it."""
    ada = caller("admin", actor="ada", tenant_=tenant)
    jobs = ada.get("/jobs", query_string={"limit": 500}).get_json()["items"]
    return {
        "jobs": [ada.get(f"/jobs/{j['id']}").get_json() for j in jobs],
        "keys": ada.get("/api-keys", query_string={"include_revoked": "true"}).get_json(),
        "events": ada.get("/events", query_string={"limit": 500}).get_json(),
        "quotas": ada.get("/quotas").get_json(),
        "artifacts": [(a, ada.get(f"/artifacts/{a['id']}/versions").get_json())
                      for a in ada.get("/artifacts").get_json()["items"]],
    }


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app, caller, role):
    mismatches = []
    for route in routes(app):
        tenant = f"t-{uuid.uuid4().hex[:10]}"
        ids = make_objects(caller, tenant, route)
        allowed = route.permission in ROLE_PERMISSIONS[role]
        before = snapshot(caller, tenant)

        response = route.call(caller(role, actor="alice", tenant_=tenant), ids)

        if allowed and (response.status_code == 403 or response.status_code >= 500):
            mismatches.append((str(route), "allowed", response.status_code))
        if not allowed:
            if response.status_code != 403:
                mismatches.append((str(route), "denied", response.status_code))
            elif snapshot(caller, tenant) != before:
                mismatches.append((str(route), "denied but changed", 403))
    assert mismatches == []
