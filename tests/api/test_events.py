"""`GET /events`: the tenant's governance events, with filters and cursor pagination."""

from __future__ import annotations

import datetime as dt

import pytest

LIFECYCLE = ["service_job_enqueued", "service_job_started", "service_job_completed"]


@pytest.fixture
def operator(caller):
    """Olga, operator of this test's tenant."""
    return caller("operator", actor="olga")


@pytest.fixture
def done(caller, completed_job):
    """An echo job alice submitted and the worker completed."""
    return completed_job(caller("viewer", actor="alice"))


def events(operator, **query) -> dict:
    """One `GET /events` page; asserts 200."""
    response = operator.get("/events", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_completed_job_has_enqueued_started_completed_newest_first(operator, done, tenant):
    items = events(operator, job_id=done["id"])["items"]

    assert [e["type"] for e in items] == list(reversed(LIFECYCLE))
    assert [e["id"] for e in items] == sorted((e["id"] for e in items), reverse=True)
    for event in items:
        assert (event["tenant"], event["project"], event["actor"]) == (tenant, "proj", "alice")
        assert (event["job_id"], event["job_type"], event["max_retries"]) == (
            done["id"], "echo", 3)
        assert event["data"]["log"] == f"/jobs/{done['id']}/logs"
        assert dt.datetime.fromisoformat(event["at"]).utcoffset() == dt.timedelta(0)
    assert [e["attempt"] for e in items] == [1, 1, 0]


def test_filter_by_type(operator, done, completed_job, caller):
    other = completed_job(caller("viewer", actor="alice"))

    items = events(operator, type="service_job_completed")["items"]

    assert [e["job_id"] for e in items] == [other["id"], done["id"]]
    assert {e["type"] for e in items} == {"service_job_completed"}


def test_filter_by_job_id_leaves_out_other_jobs(operator, done, caller):
    other = caller().submit("echo", {"message": "x"}).get_json()["id"]

    assert {e["job_id"] for e in events(operator, job_id=done["id"])["items"]} == {done["id"]}
    assert {e["job_id"] for e in events(operator, job_id=other)["items"]} == {other}


def test_filter_since_is_inclusive_and_leaves_out_older_events(operator, done):
    items = events(operator, job_id=done["id"])["items"]
    started = next(e for e in items if e["type"] == "service_job_started")

    since_started = events(operator, job_id=done["id"], since=started["at"])["items"]
    later = dt.datetime.fromisoformat(items[0]["at"]) + dt.timedelta(seconds=1)

    assert [e["type"] for e in since_started] == ["service_job_completed", "service_job_started"]
    assert events(operator, job_id=done["id"], since=later.isoformat())["items"] == []


def test_pages_walk_every_event_without_overlap_or_gap(operator, done, completed_job, caller):
    completed_job(caller())
    everything = [e["id"] for e in events(operator, limit=500)["items"]]
    assert len(everything) == 6

    seen, cursor = [], None
    while True:
        body = events(operator, limit=4, **({"cursor": cursor} if cursor else {}))
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == everything


@pytest.mark.parametrize("query, field", [({"limit": 501}, "limit"), ({"cursor": "zzz"}, "cursor"),
                                          ({"since": "yesterday"}, "since")])
def test_bad_query_is_422(operator, expect_error, query, field):
    response = operator.get("/events", query_string=query)

    assert field in expect_error(response, 422, "validation_failed")["details"]


def test_admin_reads_events_too(caller, done):
    items = events(caller("admin", actor="ada"), job_id=done["id"])["items"]

    assert len(items) == 3
