"""API keys: shown once, stored hashed, bound to actor/roles/tenant, refused once revoked."""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.auth.conftest import bearer


def test_a_key_acts_as_its_actor_roles_and_tenant(make_key, tenant):
    key, bot = make_key(roles=["viewer"], actor="ci-bot")

    job = bot.submit("echo", {"message": "m"}).get_json()

    assert key["key"].startswith("tp_") and len(key["key"]) > 40
    assert (key["actor"], key["roles"], key["tenant"]) == ("ci-bot", ["viewer"], tenant)
    assert (job["actor"], job["tenant"]) == ("ci-bot", tenant)
    assert bot.get("/events").status_code == 403  # a viewer key


def test_identity_headers_beside_a_key_change_nothing(make_key, tenant):
    _, bot = make_key(roles=["viewer"])

    response = bot.get("/events", headers={"X-Actor": "ada", "X-Roles": "admin",
                                           "X-Tenant": f"{tenant}-other"})

    assert response.status_code == 403


def test_the_key_is_shown_once_and_never_listed(admin, make_key):
    key, _ = make_key()

    listed = admin.get("/api-keys").get_json()["items"]

    assert [k["id"] for k in listed] == [key["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    assert key["key"].startswith(listed[0]["prefix"])
    assert key["key"] not in admin.get("/api-keys").get_data(as_text=True)


def test_no_plaintext_at_rest(make_key):
    key, _ = make_key()
    secret_part = key["key"][len("tp_"):]

    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_keys WHERE id = :id"),
                            {"id": key["id"]}).mappings().all()

    (row,) = rows
    assert row["key_hash"] == hashlib.sha256(key["key"].encode()).hexdigest()
    for value in row.values():
        assert secret_part[:20] not in str(value)
    assert len(row["prefix"]) == 12  # "tp_" and 9 characters: not enough to guess the rest


def test_a_revoked_key_is_refused_at_once(admin, make_key, expect_error):
    key, bot = make_key()
    assert bot.get("/jobs").status_code == 200

    assert admin.delete(f"/api-keys/{key['id']}").status_code == 204

    expect_error(bot.get("/jobs"), 401, "unauthenticated")
    assert admin.get("/api-keys").get_json()["items"] == []
    (listed,) = admin.get("/api-keys", query_string={"include_revoked": "true"}).get_json()["items"]
    assert listed["revoked_at"] is not None
    assert admin.delete(f"/api-keys/{key['id']}").status_code == 204  # idempotent


def test_rotation_two_live_keys_revoke_one_the_other_works(admin, make_key, expect_error):
    first, bot_first = make_key(actor="deployer")
    second, bot_second = make_key(actor="deployer")
    assert bot_first.get("/jobs").status_code == 200
    assert bot_second.get("/jobs").status_code == 200

    admin.delete(f"/api-keys/{first['id']}")

    expect_error(bot_first.get("/jobs"), 401, "unauthenticated")
    assert bot_second.get("/jobs").status_code == 200


def test_an_expired_key_is_refused(make_key, expect_error):
    # Room to create the key and use it once, also on a loaded machine; then wait for the
    # expiry the key was stored with, not for a fixed time.
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    key, bot = make_key(expires_at=soon.isoformat())
    assert bot.get("/jobs").status_code == 200

    left = dt.datetime.fromisoformat(key["expires_at"]) - dt.datetime.now(dt.UTC)
    time.sleep(max(0.0, left.total_seconds()) + 0.05)

    expect_error(bot.get("/jobs"), 401, "unauthenticated")
    assert key["expires_at"] is not None


@pytest.mark.parametrize("token", ["tp_", "tp_nope", "tp_" + "A" * 43, "tp_é"])
def test_unknown_keys_are_401(keys_app, expect_error, token):
    expect_error(bearer(keys_app.test_client(), token).get("/jobs"), 401, "unauthenticated")


def test_a_key_whose_prefix_matches_is_still_checked_whole(make_key, keys_app, expect_error):
    key, _ = make_key()
    forged = key["key"][:12] + "B" * (len(key["key"]) - 12)

    expect_error(bearer(keys_app.test_client(), forged).get("/jobs"), 401, "unauthenticated")


def test_keys_are_refused_when_the_mode_is_off(app_factory, make_key, expect_error):
    key, _ = make_key()
    headers_only = app_factory(auth_modes=("headers",))  # settings are per process: built last

    response = headers_only.test_client().get("/jobs",
                                              headers={"Authorization": f"Bearer {key['key']}"})

    expect_error(response, 401, "unauthenticated")


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "roles": ["root"]}, "roles"),
    ({"name": "x", "roles": []}, "roles"),
    ({"name": "x", "roles": ["viewer"], "expires_at": "2001-01-01T00:00:00+00:00"}, "expires_at"),
    ({"name": "x", "roles": ["viewer"], "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
    ({"name": "x", "roles": ["viewer"], "tenant": "elsewhere"}, "tenant"),
    ({"name": "x", "roles": ["viewer"], "key_hash": "0" * 64}, "key_hash"),
    ({"roles": ["viewer"]}, "name"),
])
def test_bad_key_requests_are_422_and_store_nothing(admin, expect_error, body, field):
    error = expect_error(admin.post("/api-keys", json=body), 422, "validation_failed")

    assert field in error["details"]
    assert admin.get("/api-keys", query_string={"include_revoked": "true"}).get_json() == {
        "items": [], "next_cursor": None}


def test_keys_are_listed_newest_first_with_a_cursor(admin, make_key):
    ids = [make_key(actor=f"bot{i}")[0]["id"] for i in range(3)]

    first = admin.get("/api-keys", query_string={"limit": 2}).get_json()
    rest = admin.get("/api-keys", query_string={"limit": 2,
                                                "cursor": first["next_cursor"]}).get_json()

    assert [k["id"] for k in first["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None
    only = admin.get("/api-keys", query_string={"actor": "bot1"}).get_json()["items"]
    assert [k["id"] for k in only] == [ids[1]]
