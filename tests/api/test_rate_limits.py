"""Per-actor rate limits (flask-limiter over the session's Redis), one budget per route class."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Caller
from tests.harness import free_port

ECHO = {"job_type": "echo", "payload": {"message": "m"}, "project": "p"}


@pytest.fixture
def limited(app_factory, tenant):
    """`limited(roles, actor, tenant_)`: a caller of an app with small rate limits."""
    client = app_factory(rate_limit_submit="3/minute", rate_limit_write="2/minute",
                         rate_limit_read="5/minute").test_client()

    def make(roles: str = "viewer", actor: str = "alice", tenant_: str | None = None):
        return Caller(client, actor, roles, tenant_ or tenant)

    return make


def test_over_the_submit_budget_answers_429_rate_limited_with_headers(limited, expect_error):
    alice = limited()
    answers = [alice.post("/jobs", json=ECHO) for _ in range(3)]
    assert [r.status_code for r in answers] == [202, 202, 202]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in answers} == {"3"}
    assert not any("Retry-After" in r.headers for r in answers)

    refused = alice.post("/jobs", json=ECHO)

    error = expect_error(refused, 429, "rate_limited")
    assert error["details"] == {"limit": "3 per 1 minute", "route_class": "submit"}
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) > 0
    assert len(alice.get("/jobs").get_json()["items"]) == 3  # the refused submit stored nothing


def test_another_actor_and_another_tenant_keep_their_own_budget(limited, tenant):
    for _ in range(3):
        limited().post("/jobs", json=ECHO)
    assert limited().post("/jobs", json=ECHO).status_code == 429

    assert limited(actor="bob").post("/jobs", json=ECHO).status_code == 202
    other_tenant = f"{tenant}-{uuid.uuid4().hex[:4]}"
    assert limited(tenant_=other_tenant).post("/jobs", json=ECHO).status_code == 202


def test_route_classes_spend_separate_budgets(limited, expect_error):
    alice = limited()
    for _ in range(3):
        alice.post("/jobs", json=ECHO)
    assert alice.post("/jobs", json=ECHO).status_code == 429

    reads = [alice.get("/jobs").status_code for _ in range(6)]
    assert reads == [200] * 5 + [429]
    writes = [alice.post(f"/jobs/{uuid.uuid4()}/cancel").status_code for _ in range(3)]
    assert writes == [404, 404, 429]
    error = expect_error(alice.delete(f"/jobs/{uuid.uuid4()}"), 429, "rate_limited")
    assert error["details"]["route_class"] == "write"


def test_public_probes_are_exempt(limited):
    client = limited().client

    answers = [client.get("/livez") for _ in range(8)]

    assert {r.status_code for r in answers} == {200}
    assert "X-RateLimit-Limit" not in answers[-1].headers


def test_rate_limits_can_be_turned_off(app_factory, tenant):
    client = app_factory(rate_limits_enabled=False, rate_limit_submit="1/minute").test_client()
    alice = Caller(client, "alice", "viewer", tenant)

    assert [alice.post("/jobs", json=ECHO).status_code for _ in range(3)] == [202] * 3


def test_unreachable_storage_serves_requests_unlimited(app_factory, tenant):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    client = app_factory(redis_url=dead, rate_limit_read="1/minute").test_client()
    alice = Caller(client, "alice", "viewer", tenant)

    assert [alice.get("/jobs").status_code for _ in range(3)] == [200] * 3


def test_failed_authentications_spend_the_addresss_budget_then_it_is_refused_at_the_door(
        app_factory, tenant, expect_error):
    client = app_factory(rate_limit_auth_failures="3/minute").test_client()
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    other = "192.0.2.7" if not address.startswith("192.") else "198.51.100.7"
    valid = {"X-Actor": "alice", "X-Roles": "viewer", "X-Tenant": tenant}

    def get(remote: str, headers: dict):
        return client.get("/jobs", headers=headers, environ_base={"REMOTE_ADDR": remote})

    assert [get(address, {}).status_code for _ in range(3)] == [401, 401, 401]
    assert get(address, valid).status_code == 429  # spent: not even valid credentials pass
    refused = get(address, {"X-Actor": "x"})

    error = expect_error(refused, 429, "rate_limited")
    assert error["details"] == {"limit": "3 per 1 minute", "route_class": "authentication"}
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert get(other, valid).status_code == 200  # the budget is per address
    assert get(other, {}).status_code == 401
