"""Identity and audit values are refused at their door when out of bounds, never cut.

Through the real gunicorn, on the session's database, for each door an identity
arrives by: identity headers, a trusted proxy's identity headers, a JWT, an API key. A
tenant of the maximum length works end to end (submit, the job run by the worker, list,
events, artifacts, audit); one character more is refused and stores nothing, so two
tenants equal up to the maximum can never become one; an over-long actor, roles list,
reason and request id are each refused, and every refusal has its audit record.
"""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from sqlalchemy import create_engine, text

from app.identity import ACTOR, MAX_ROLES, REASON, REQUEST_ID, ROLE, TENANT
from tests.conftest import worker_env
from tests.harness import Gunicorn, http_request, wait_until

pytestmark = pytest.mark.e2e

SECRET = "bounds-secret-" + "s" * 40
ISSUER, AUDIENCE = "https://idp.bounds.test", "taskplane"
DOORS = ["headers", "proxy", "jwt", "apikey"]


def padded(prefix: str, length: int) -> str:
    """`prefix` and a unique tail, `length` characters in all."""
    value = f"{prefix}-{uuid.uuid4().hex}"
    return (value + "x" * length)[:length]


@pytest.fixture(scope="module")
def servers(settings, tmp_path_factory):
    """gunicorn taking headers, JWTs and API keys; and one behind a trusted proxy."""
    folder = tmp_path_factory.mktemp("bounds")
    env = dict(worker_env(settings), TASKPLANE_AUTH_MODES="headers,jwt,apikey",
               TASKPLANE_JWT_ALGORITHMS="HS256", TASKPLANE_JWT_SECRET=SECRET,
               TASKPLANE_JWT_ISSUER=ISSUER, TASKPLANE_JWT_AUDIENCE=AUDIENCE)
    proxied = dict(worker_env(settings), TASKPLANE_ENV="production",
                   TASKPLANE_SECRET_KEY="k" * 40, TASKPLANE_AUTH_MODES="headers",
                   TASKPLANE_TRUSTED_PROXIES="127.0.0.1")
    started = {"open": Gunicorn("app:create_app()", env, folder / "open.log", workers=1)}
    try:
        started["proxy"] = Gunicorn("app:create_app()", proxied, folder / "proxy.log", workers=1)
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def database(settings):
    """A plain connection to the session's database, to see what was (not) stored."""
    engine = create_engine(settings["database_url"])
    yield engine
    engine.dispose()


class Door:
    """Calls gunicorn with an identity that arrives by one door."""

    def __init__(self, kind: str, servers: dict):
        self.kind = kind
        self.server = servers["proxy" if kind == "proxy" else "open"]
        self.keys: dict[tuple, str] = {}

    def credentials(self, tenant: str, actor: str, roles: str) -> dict:
        """The request headers carrying this identity by this door."""
        if self.kind in ("headers", "proxy"):
            extra = {"X-Forwarded-For": "203.0.113.9"} if self.kind == "proxy" else {}
            return {"X-Actor": actor, "X-Roles": roles, "X-Tenant": tenant, **extra}
        if self.kind == "jwt":
            now = int(time.time())
            token = jwt.encode({"sub": actor, "roles": roles.split(","), "tenant": tenant,
                                "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600},
                               SECRET, algorithm="HS256")
            return {"Authorization": f"Bearer {token}"}
        return {"Authorization": f"Bearer {self.api_key(tenant, actor, roles)}"}

    def api_key(self, tenant: str, actor: str, roles: str) -> str:
        """A key bound to this identity, made once by an admin of the tenant (headers)."""
        if (tenant, actor, roles) not in self.keys:
            status, body = self.raw("POST", "/api-keys", {
                "X-Actor": "ada", "X-Roles": "admin", "X-Tenant": tenant},
                {"name": "bounds", "actor": actor, "roles": roles.split(",")})
            assert status == 201, body
            self.keys[tenant, actor, roles] = body["key"]
        return self.keys[tenant, actor, roles]

    def raw(self, method: str, path: str, headers: dict, body=None) -> tuple[int, dict]:
        """One call with exactly these headers: (status, JSON body)."""
        data = None if body is None else json.dumps(body).encode()
        status, answer = http_request(self.server.port, method, path, data,
                                      {"Content-Type": "application/json", **headers},
                                      timeout=30)
        return status, json.loads(answer) if answer else {}

    def call(self, method: str, path: str, tenant: str, body=None, actor: str = "ada",
             roles: str = "admin", **headers) -> tuple[int, dict]:
        """One call as (tenant, actor, roles), plus `headers`."""
        return self.raw(method, path, {**self.credentials(tenant, actor, roles), **headers},
                        body)


@pytest.fixture(params=DOORS)
def door(request, servers):
    return Door(request.param, servers)


def echo(project: str) -> dict:
    return {"job_type": "echo", "payload": {"message": "bounds"}, "project": project}


def stored(database, sql: str, **params) -> list:
    """Rows of `sql` in the session's database."""
    with database.connect() as conn:
        return list(conn.execute(text(sql), params))


def audit_of(database, request_id: str) -> list:
    """The audit records stored for one request id."""
    return stored(database, "SELECT outcome, status, tenant, actor FROM audit_log "
                            "WHERE request_id = :rid", rid=request_id)


def expect_refusal(door: Door, status: int, body: dict, where: str) -> dict:
    """A refusal at the door: 400 `invalid_identity` naming a header, or 401 naming a claim
    (a JWT) or a 422 naming a body field (an API key's creation); the error."""
    error = body["error"]
    if where.startswith("X-"):
        assert status == 400, body
        assert error["code"] == "invalid_identity", body
        assert error["details"]["header"] == where, body
    elif door.kind == "jwt":
        assert status == 401, body
        assert error["code"] == "unauthenticated", body
        assert error["details"]["claim"] == where, body
    else:
        assert (door.kind, status, error["code"]) == ("apikey", 422, "validation_failed"), body
        assert where in error["details"], body
    return error


def completed(door: Door, tenant: str, actor: str, job_id: str) -> dict | None:
    """The job when it has completed, else None."""
    status, job = door.call("GET", f"/jobs/{job_id}", tenant, actor=actor)
    assert status == 200, job
    return job if job["status"] == "completed" else None


def test_a_tenant_and_actor_of_the_maximum_length_work_end_to_end(door, worker, database):
    tenant, actor = padded("t", TENANT.max_length), padded("a", ACTOR.max_length)

    status, job = door.call("POST", "/jobs", tenant, echo("bounds"), actor=actor,
                            **{"X-Reason": "r" * REASON.max_length})
    assert status == 202, job
    assert (job["tenant"], job["actor"]) == (tenant, actor)
    done = wait_until(lambda: completed(door, tenant, actor, job["id"]), 60,
                      message="the job to complete")
    assert done["tenant"] == tenant
    status, page = door.call("GET", "/jobs", tenant, actor=actor)
    assert [item["id"] for item in page["items"]] == [job["id"]]
    status, events = door.call("GET", f"/events?job_id={job['id']}", tenant, actor=actor)
    assert {"service_job_enqueued", "service_job_completed"} <= {
        e["type"] for e in events["items"]}
    assert {(e["tenant"], e["actor"]) for e in events["items"]} == {(tenant, actor)}
    status, artifact = door.call("POST", "/artifacts", tenant, {
        "name": "a.txt", "type": "doc", "content": "aGk=", "content_type": "text/plain"},
        actor=actor)
    assert status == 201, artifact
    status, artifacts = door.call("GET", "/artifacts", tenant, actor=actor)
    assert [(a["id"], a["tenant"], a["created_by"]) for a in artifacts["items"]] == [
        (artifact["id"], tenant, actor)]
    status, audit = door.call("GET", "/audit?action=jobs.submit", tenant, actor=actor)
    (record,) = audit["items"]
    assert (record["tenant"], record["actor"], record["reason"]) == (
        tenant, actor, "r" * REASON.max_length)


def test_a_tenant_one_character_longer_is_refused_and_never_becomes_the_shorter_one(
        door, database):
    tenant = padded("t", TENANT.max_length)
    status, job = door.call("POST", "/jobs", tenant, echo("first"))
    assert status == 202, job
    longer, sibling = tenant + "z", tenant[:-1] + "z"
    project = f"refused-{uuid.uuid4().hex[:8]}"

    if door.kind == "apikey":  # a key's tenant is its maker's: the maker is refused
        status, body = door.raw("POST", "/api-keys", {
            "X-Actor": "ada", "X-Roles": "admin", "X-Tenant": longer},
            {"name": "bounds", "roles": ["admin"]})
        error = expect_refusal(door, status, body, "X-Tenant")
        assert stored(database, "SELECT DISTINCT tenant FROM api_keys WHERE tenant LIKE :t",
                      t=tenant[:-1] + "%") == [(tenant,)]
    else:
        status, body = door.call("POST", "/jobs", longer, echo(project))
        error = expect_refusal(door, status, body, "tenant" if door.kind == "jwt" else "X-Tenant")
        status, listed = door.call("GET", "/jobs", longer)
        assert status in (400, 401) and "items" not in listed

    assert stored(database, "SELECT id FROM jobs WHERE project = :p", p=project) == []
    assert stored(database, "SELECT DISTINCT tenant FROM jobs WHERE tenant LIKE :t",
                  t=tenant[:-1] + "%") == [(tenant,)]
    ((outcome, code, who, _),) = audit_of(database, error["request_id"])
    assert (outcome, code, who) == ("denied", status, None)
    status, page = door.call("GET", "/jobs", sibling)  # equal but for the last character
    assert status == 200 and page["items"] == []
    status, page = door.call("GET", "/jobs", tenant)
    assert [item["id"] for item in page["items"]] == [job["id"]]


def over_long(door: Door, value: str, tenant: str, project: str):
    """Submit with one identity or audit value over its maximum: (status, body, where)."""
    if value == "request_id":
        return (*door.call("POST", "/jobs", tenant, echo(project),
                           **{"X-Request-ID": "i" * (REQUEST_ID.max_length + 1)}),
                "X-Request-ID")
    if value == "reason":
        return (*door.call("POST", "/jobs", tenant, echo(project),
                           **{"X-Reason": "r" * (REASON.max_length + 1)}), "X-Reason")
    actor = "a" * (ACTOR.max_length + 1) if value == "actor" else "ada"
    roles = ",".join(["admin"] * (MAX_ROLES + 1)) if value == "roles" else "admin"
    if door.kind == "apikey":  # its values arrive in the body that creates it
        status, body = door.raw("POST", "/api-keys", {
            "X-Actor": "ada", "X-Roles": "admin", "X-Tenant": tenant},
            {"name": project, "actor": actor, "roles": roles.split(",")})
        return status, body, value
    where = ({"actor": "sub", "roles": "roles"} if door.kind == "jwt"
             else {"actor": "X-Actor", "roles": "X-Roles"})[value]
    return (*door.call("POST", "/jobs", tenant, echo(project), actor=actor, roles=roles),
            where)


@pytest.mark.parametrize("value", ["actor", "roles", "reason", "request_id"])
def test_an_over_long_value_is_refused_stores_nothing_and_is_audited(door, database, value):
    tenant = padded("t", 24)
    project = f"refused-{uuid.uuid4().hex[:8]}"

    status, body, where = over_long(door, value, tenant, project)

    error = expect_refusal(door, status, body, where)
    assert stored(database, "SELECT id FROM jobs WHERE project = :p", p=project) == []
    assert stored(database, "SELECT id FROM api_keys WHERE name = :p", p=project) == []
    ((outcome, code, *_),) = audit_of(database, error["request_id"])
    assert (outcome, code) == ("failed" if status == 422 else "denied", status)


@pytest.mark.parametrize("roles", ["admin," + "r" * (ROLE.max_length + 1), "admin,r\u00f4le"])
@pytest.mark.parametrize("door", ["headers", "proxy", "jwt"], indirect=True)
def test_a_role_name_out_of_bounds_is_refused(door, database, roles):
    # (an API key's roles must be known roles: its creation refuses any other name)
    tenant, project = padded("t", 24), f"refused-{uuid.uuid4().hex[:8]}"

    status, body = door.call("POST", "/jobs", tenant, echo(project), roles=roles)

    expect_refusal(door, status, body, "roles" if door.kind == "jwt" else "X-Roles")
    assert stored(database, "SELECT id FROM jobs WHERE project = :p", p=project) == []
