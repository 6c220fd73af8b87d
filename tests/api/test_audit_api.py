"""`GET /audit`: the tenant's audit records, filters, cursor pagination, roles."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.fixture
def operator(caller):
    return caller("operator", actor="olga")


@pytest.fixture
def history(caller, operator):
    """Alice submits (202) and fails to submit (422); bob, a viewer, is refused /audit (403)."""
    alice, bob = caller("viewer", actor="alice"), caller("viewer", actor="bob")
    assert alice.submit("echo", {"message": "one"}).status_code == 202
    assert alice.submit("echo", {"message": 1}).status_code == 422
    assert bob.get("/audit").status_code == 403
    return audit(operator, limit=500)["items"]


def audit(who, **query) -> dict:
    """One `GET /audit` page; asserts 200."""
    response = who.get("/audit", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_lists_the_tenants_records_newest_first(history, tenant):
    assert [(r["actor"], r["action"], r["outcome"], r["status"]) for r in history] == [
        ("bob", "audit.list", "denied", 403),
        ("alice", "jobs.submit", "failed", 422),
        ("alice", "jobs.submit", "allowed", 202),
    ]
    assert {r["tenant"] for r in history} == {tenant}
    assert set(history[0]) == {"id", "at", "request_id", "actor", "roles", "tenant", "reason",
                               "action", "target", "outcome", "status", "method", "source"}


@pytest.mark.parametrize("query, expected", [
    ({"actor": "alice"}, [422, 202]),
    ({"actor": "nobody"}, []),
    ({"action": "jobs.submit"}, [422, 202]),
    ({"action": "audit.list"}, [403]),
    ({"outcome": "denied"}, [403]),
    ({"outcome": "allowed"}, [202]),
    ({"actor": "alice", "outcome": "failed"}, [422]),
])
def test_filters(operator, history, query, expected):
    assert [r["status"] for r in audit(operator, **query)["items"]] == expected


def test_time_window_since_inclusive_until_exclusive(operator, history):
    oldest, middle = history[2], history[1]

    since_middle = audit(operator, since=middle["at"])["items"]
    until_middle = audit(operator, until=middle["at"])["items"]
    just_middle = audit(operator, since=middle["at"],
                        until=(dt.datetime.fromisoformat(middle["at"])
                               + dt.timedelta(microseconds=1)).isoformat())["items"]

    assert [r["id"] for r in since_middle] == [history[0]["id"], middle["id"]]
    assert [r["id"] for r in until_middle] == [oldest["id"]]
    assert [r["id"] for r in just_middle] == [middle["id"]]


def test_pages_walk_every_record_without_overlap_or_gap(operator, caller, history):
    for _ in range(3):
        caller("viewer", actor="carol").post("/jobs/none/cancel")  # 404s, audited
    everything = [r["id"] for r in audit(operator, limit=500)["items"]]
    assert len(everything) == 6

    seen, cursor = [], None
    while True:
        body = audit(operator, limit=4, **({"cursor": cursor} if cursor else {}))
        seen += [r["id"] for r in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == everything


def test_another_tenants_records_are_not_listed(caller, history, tenant):
    other = caller("admin", actor="ada", tenant_=f"{tenant}-b")
    assert other.submit("echo", {"message": "b"}).status_code == 202

    assert [(r["actor"], r["action"]) for r in audit(other)["items"]] == [("ada", "jobs.submit")]


@pytest.mark.parametrize("roles, status", [("viewer", 403), ("publisher", 403),
                                           ("operator", 200), ("admin", 200)])
def test_only_operators_and_admins_read_it(caller, expect_error, roles, status):
    response = caller(roles, actor="x").get("/audit")

    if status == 403:
        expect_error(response, 403, "forbidden")
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("query, field", [
    ({"outcome": "maybe"}, "outcome"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-01-02T00:00:00+00:00", "until": "2026-01-01T00:00:00+00:00"}, "until"),
    ({"since": "2026-01-02T00:00:00"}, "since"),
    ({"limit": 501}, "limit"),
    ({"cursor": "zzz"}, "cursor"),
    ({"tenant": "other"}, "tenant"),
])
def test_bad_query_is_422(operator, expect_error, query, field):
    response = operator.get("/audit", query_string=query)

    assert field in expect_error(response, 422, "validation_failed")["details"]
