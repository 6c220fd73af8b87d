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


def test_failed_authentications_spend_the_claimed_identitys_budget_then_it_is_refused(
        app_factory, tenant, expect_error):
    client = app_factory(rate_limit_auth_failures="3/minute").test_client()
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    other = "192.0.2.7" if not address.startswith("192.") else "198.51.100.7"
    valid = {"X-Actor": "alice", "X-Roles": "viewer", "X-Tenant": tenant}

    def get(remote: str, headers: dict):
        return client.get("/jobs", headers=headers, environ_base={"REMOTE_ADDR": remote})

    assert [get(address, {}).status_code for _ in range(3)] == [401, 401, 401]
    refused = get(address, {})

    error = expect_error(refused, 429, "rate_limited")
    assert error["details"] == {"limit": "3 per 1 minute", "route_class": "authentication"}
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert get(address, valid).status_code == 200  # another identity from that address
    assert get(other, {}).status_code == 401  # the same claim from another address


def test_a_bad_client_behind_a_shared_address_does_not_lock_out_valid_callers(
        app_factory, tenant, expect_error):
    client = app_factory(rate_limit_auth_failures="3/minute",
                         auth_modes=("headers", "apikey")).test_client()
    shared = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    admin = {"X-Actor": "root", "X-Roles": "admin", "X-Tenant": tenant}
    created = client.post("/api-keys", json={"name": "ci", "roles": ["viewer"]}, headers=admin)
    assert created.status_code == 201, created.get_json()
    key = created.get_json()["key"]
    stale = "tp_" + "x" * 43  # a bad client's wrong key (mistyped, revoked), sent again and again

    def get(headers: dict):
        return client.get("/jobs", headers=headers, environ_base={"REMOTE_ADDR": shared})

    answers = [get({"Authorization": f"Bearer {stale}"}).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    guesses = [get({"Authorization": f"Bearer {key[:20]}{n:024d}"}).status_code
               for n in range(4)]
    assert guesses == [401, 401, 401, 429]  # guessing the rest of one key is bounded too

    assert get({"X-Actor": "bob", "X-Roles": "viewer", "X-Tenant": tenant}).status_code == 200
    assert get({}).status_code == 401  # no credentials: an identity of its own, not spent
    other_key = client.post("/api-keys", json={"name": "other", "roles": ["viewer"]},
                            headers=admin).get_json()["key"]
    assert get({"Authorization": f"Bearer {other_key}"}).status_code == 200
    expect_error(get({"Authorization": f"Bearer {stale}"}), 429, "rate_limited")


def test_a_request_spends_its_budget_in_one_redis_round_trip(limited, redis_url):
    import threading

    import redis

    actor = f"trips-{uuid.uuid4().hex[:8]}"
    alice = limited(actor=actor)
    alice.get("/job-types")  # scripts registered, keys exist
    commands, ready = [], threading.Event()

    def watch():
        with redis.Redis.from_url(redis_url).monitor() as monitor:
            ready.set()
            for entry in monitor.listen():
                if "trips-done" in entry["command"]:
                    return
                commands.append(entry)

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert ready.wait(10)
    answers = [alice.get("/job-types") for _ in range(4)]
    redis.Redis.from_url(redis_url).echo("trips-done")
    watcher.join(10)

    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["3", "2", "1", "0"]
    budget = [entry["command"].split()[0].strip('"').upper() for entry in commands
              if actor in entry["command"] and entry["client_type"] != "lua"]
    assert budget == ["EVALSHA"] * 4  # the increment answers the headers too
