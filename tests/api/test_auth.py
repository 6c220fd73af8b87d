"""Header identity and the role matrix, over HTTP.

The matrix is generated from `app.auth.ROLE_PERMISSIONS`, so a new role is covered at
once; `test_role_table_is_the_spec_table` pins that table to SPEC §3.
"""

from __future__ import annotations

import pytest

from app.auth import ROLE_PERMISSIONS, Permission

ROLES = sorted(ROLE_PERMISSIONS)


def allowed(role: str, permission: Permission) -> bool:
    """Whether `role` holds `permission` according to the code's table."""
    return permission in ROLE_PERMISSIONS[role]


def expect_outcome(response, ok_status: int, permitted: bool, expect_error) -> None:
    """`ok_status` when permitted, else a 403 `forbidden` envelope."""
    if permitted:
        assert response.status_code == ok_status, response.get_json()
    else:
        expect_error(response, 403, "forbidden")


def test_role_table_is_the_spec_table():
    spec = {
        "viewer": {"read", "submit", "manage_own_jobs"},
        "publisher": {"read", "submit", "manage_own_jobs", "write_artifacts"},
        "operator": {"read", "submit", "manage_own_jobs", "manage_tenant_jobs",
                     "read_governance"},
        "admin": {p.value for p in Permission},
    }

    assert {role: {p.value for p in perms} for role, perms in ROLE_PERMISSIONS.items()} == spec


# --- the matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_reading_jobs_and_job_types(caller, expect_error, role):
    job_id = caller("viewer", actor="alice").submit("echo", {"message": "m"}).get_json()["id"]
    reader = caller(role, actor="rita")
    permitted = allowed(role, Permission.READ)

    for path in ("/jobs", f"/jobs/{job_id}", "/job-types"):
        expect_outcome(reader.get(path), 200, permitted, expect_error)


@pytest.mark.parametrize("role", ROLES)
def test_submitting(caller, expect_error, role):
    response = caller(role).submit("echo", {"message": "m"})

    expect_outcome(response, 202, allowed(role, Permission.SUBMIT), expect_error)


@pytest.mark.parametrize("action, job_in_state", [("cancel", "sleeping_job"),
                                                  ("retry", "failed_job")])
@pytest.mark.parametrize("role", ROLES)
def test_cancel_or_retry_own_job(request, caller, expect_error, role, action, job_in_state):
    owner = caller(role, actor="alice")
    job = request.getfixturevalue(job_in_state)(owner)

    response = owner.post(f"/jobs/{job['id']}/{action}")

    expect_outcome(response, 202, allowed(role, Permission.MANAGE_OWN_JOBS), expect_error)


@pytest.mark.parametrize("role", ROLES)
def test_cancel_another_actors_job(caller, sleeping_job, expect_error, role):
    owner = caller("viewer", actor="alice")
    job = sleeping_job(owner)
    permitted = allowed(role, Permission.MANAGE_TENANT_JOBS)

    response = caller(role, actor="bob").post(f"/jobs/{job['id']}/cancel")

    expect_outcome(response, 202, permitted, expect_error)
    after = owner.get(f"/jobs/{job['id']}").get_json()
    if permitted:
        assert after["status"] == "cancelled" or after["cancel_requested"] is True
    else:
        assert after["status"] in {"queued", "running"}
        assert after["cancel_requested"] is False
        assert "cancelled" not in [t["status"] for t in after["timeline"]]


@pytest.mark.parametrize("role", ROLES)
def test_retry_another_actors_job(caller, failed_job, expect_error, role):
    owner = caller("viewer", actor="alice")
    job = failed_job(owner)
    permitted = allowed(role, Permission.MANAGE_TENANT_JOBS)

    response = caller(role, actor="bob").post(f"/jobs/{job['id']}/retry")

    expect_outcome(response, 202, permitted, expect_error)
    after = owner.get(f"/jobs/{job['id']}").get_json()
    if permitted:
        assert after["timeline"][len(job["timeline"])]["detail"] == "retried by bob"
    else:
        assert after == job


@pytest.mark.parametrize("role", ROLES)
def test_reading_governance_events(caller, expect_error, role):
    response = caller(role).get("/events")

    expect_outcome(response, 200, allowed(role, Permission.READ_GOVERNANCE), expect_error)


def test_forbidden_names_the_missing_permission(caller, expect_error):
    error = expect_error(caller("viewer").get("/events"), 403, "forbidden")

    assert error["details"] == {"permission": "read_governance", "roles": ["viewer"]}


# --- role parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("roles", ["superuser", "root,god", ",", "admins"])
def test_unknown_roles_grant_nothing(caller, expect_error, roles):
    anybody = caller(roles)

    expect_error(anybody.submit("echo", {"message": "m"}), 403, "forbidden")
    expect_error(anybody.get("/jobs"), 403, "forbidden")
    assert caller("viewer").get("/jobs").get_json()["items"] == []


def test_an_unknown_role_beside_a_known_one_does_not_escalate(caller, expect_error):
    mixed = caller("viewer,superuser")

    assert mixed.submit("echo", {"message": "m"}).status_code == 202
    expect_error(mixed.get("/events"), 403, "forbidden")


@pytest.mark.parametrize("roles", ["OPERATOR", "Operator", " viewer , Operator "])
def test_role_names_are_case_insensitive_and_trimmed(caller, roles):
    assert caller(roles).get("/events").status_code == 200


# --- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", [("X-Actor",), ("X-Roles",), ("X-Tenant",),
                                     ("X-Actor", "X-Roles", "X-Tenant")])
@pytest.mark.parametrize("method, path", [("get", "/jobs"), ("post", "/jobs"),
                                          ("get", "/job-types"), ("get", "/events")])
def test_missing_identity_header_is_401(app, expect_error, missing, method, path):
    headers = {"X-Actor": "alice", "X-Roles": "admin", "X-Tenant": "t-auth"}
    for name in missing:
        del headers[name]

    response = getattr(app.test_client(), method)(path, headers=headers, json={})

    error = expect_error(response, 401, "unauthenticated")
    assert error["details"] == {"missing_headers": list(missing)}


@pytest.mark.parametrize("header", ["X-Actor", "X-Roles", "X-Tenant"])
def test_blank_identity_header_is_401(caller, expect_error, header):
    response = caller("admin").get("/jobs", headers={header: "  " if header != "X-Roles" else ""})

    assert expect_error(response, 401, "unauthenticated")["details"]["missing_headers"] == [
        header]


def test_rejected_credentials_store_nothing(app, caller, expect_error):
    alice = caller("viewer")
    headers = {k: v for k, v in alice.headers.items() if k != "X-Roles"}

    expect_error(app.test_client().post("/jobs", headers=headers, json={
        "job_type": "echo", "payload": {"message": "m"}, "project": "p"}), 401, "unauthenticated")

    assert alice.get("/jobs").get_json()["items"] == []


# --- reason ---------------------------------------------------------------------------------


def enqueued_event(caller, job_id: str) -> dict:
    """The `service_job_enqueued` event of a job, read by an operator."""
    response = caller("operator", actor="olga").get(
        "/events", query_string={"job_id": job_id, "type": "service_job_enqueued"})
    (event,) = response.get_json()["items"]
    return event


def test_x_reason_is_recorded_on_the_enqueued_event(caller):
    alice = caller()
    body = {"job_type": "echo", "payload": {"message": "m"}, "project": "p"}

    with_reason = alice.post("/jobs", json=body, headers={"X-Reason": "release 4.2 smoke"})
    without = alice.post("/jobs", json=body)

    assert enqueued_event(caller, with_reason.get_json()["id"])["data"]["reason"] == (
        "release 4.2 smoke")
    assert enqueued_event(caller, without.get_json()["id"])["data"]["reason"] == "unspecified"
