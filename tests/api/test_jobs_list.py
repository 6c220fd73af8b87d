"""`GET /jobs`: cursor pagination and filters."""

from __future__ import annotations

import base64
import json

import pytest

PLAN = {"targets": {"a": {}}}


def submit_ids(owner, count: int, **fields) -> list[str]:
    """Submit `count` echo jobs one after the other; their ids, oldest first."""
    ids = []
    for n in range(count):
        response = owner.submit("echo", {"message": f"m{n}"}, **fields)
        assert response.status_code == 202, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def page(owner, **query) -> dict:
    """One `GET /jobs` page; asserts 200."""
    response = owner.get("/jobs", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def all_ids(owner, **query) -> list[str]:
    """Ids of one big page with the given filters, newest first."""
    body = page(owner, limit=500, **query)
    assert body["next_cursor"] is None
    return [job["id"] for job in body["items"]]


def forged_cursor(values) -> str:
    """A cursor built by hand, shaped like the real ones."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# --- pagination -----------------------------------------------------------------------------


def test_pages_walk_every_job_newest_first_without_overlap_or_gap(caller):
    alice = caller()
    ids = submit_ids(alice, 7)

    seen, sizes, cursor = [], [], None
    while True:
        body = page(alice, limit=3, **({"cursor": cursor} if cursor else {}))
        sizes.append(len(body["items"]))
        seen += [job["id"] for job in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert sizes == [3, 3, 1]
    assert seen == list(reversed(ids))


def test_a_page_that_fills_the_limit_exactly_is_the_last_one(caller):
    alice = caller()
    ids = submit_ids(alice, 3)

    body = page(alice, limit=3)

    assert [job["id"] for job in body["items"]] == list(reversed(ids))
    assert body["next_cursor"] is None


def test_jobs_submitted_while_paging_do_not_shift_later_pages(caller):
    alice = caller()
    ids = submit_ids(alice, 4)
    first = page(alice, limit=2)

    newer = submit_ids(alice, 1)
    second = page(alice, limit=2, cursor=first["next_cursor"])

    assert [job["id"] for job in second["items"]] == [ids[1], ids[0]]
    assert newer[0] not in {job["id"] for job in second["items"]}


def test_list_items_are_jobs_without_timeline(caller):
    alice = caller()
    submit_ids(alice, 1, project="web")

    (item,) = page(alice)["items"]

    assert "timeline" not in item
    assert (item["job_type"], item["project"], item["actor"]) == ("echo", "web", "alice")
    assert item["status"] in {"queued", "running", "completed"}
    assert item["payload"] == {"message": "m0", "fail_times": 0}


def test_default_page_holds_the_jobs_with_no_cursor_after_it(caller):
    alice = caller()
    ids = submit_ids(alice, 2)

    body = page(alice)

    assert [job["id"] for job in body["items"]] == list(reversed(ids))
    assert body["next_cursor"] is None


def test_limit_of_500_is_accepted(caller):
    assert page(caller(), limit=500) == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("limit", [501, 0, -1, "ten"])
def test_limit_outside_1_to_500_is_422(caller, expect_error, limit):
    response = caller().get("/jobs", query_string={"limit": limit})

    assert "limit" in expect_error(response, 422, "validation_failed")["details"]


BAD_CURSORS = {
    "not base64 json": "zzz",
    "wrong length": forged_cursor(["2024-01-01T00:00:00+00:00"]),
    "not a time": forged_cursor(["yesterday", "x"]),
    "not a list": forged_cursor({"a": 1}),
    "too long": "A" * 513,
    "time without timezone": forged_cursor(["2024-01-01T00:00:00", "x"]),
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_bad_cursor_is_422(caller, expect_error, cursor):
    response = caller().get("/jobs", query_string={"cursor": cursor})

    assert "cursor" in expect_error(response, 422, "validation_failed")["details"]


# --- filters --------------------------------------------------------------------------------


def test_filter_by_job_type(caller):
    alice = caller()
    echo = submit_ids(alice, 1)
    plan = alice.submit("plan-build", PLAN).get_json()["id"]

    assert all_ids(alice, job_type="plan-build") == [plan]
    assert all_ids(alice, job_type="echo") == echo
    assert all_ids(alice, job_type="sleep") == []


def test_filter_by_project(caller):
    alice = caller()
    web = submit_ids(alice, 2, project="web")
    api = submit_ids(alice, 1, project="api")

    assert all_ids(alice, project="web") == list(reversed(web))
    assert all_ids(alice, project="api") == api


def test_filter_by_actor(caller):
    alice, bob = caller(actor="alice"), caller(actor="bob")
    mine = submit_ids(alice, 1)
    theirs = submit_ids(bob, 2)

    assert all_ids(alice, actor="bob") == list(reversed(theirs))
    assert all_ids(bob, actor="alice") == mine
    assert all_ids(alice, actor="carol") == []


def test_filter_by_created_range(caller):
    alice = caller()
    ids = submit_ids(alice, 3)
    created = [alice.get(f"/jobs/{job_id}").get_json()["created_at"] for job_id in ids]

    assert all_ids(alice, created_after=created[1]) == [ids[2], ids[1]]  # inclusive
    assert all_ids(alice, created_before=created[1]) == [ids[0]]  # exclusive
    assert all_ids(alice, created_after=created[0], created_before=created[2]) == [
        ids[1], ids[0]]
    assert all_ids(alice, created_after=created[2], created_before=created[0]) == []


def test_filter_by_status(caller, completed_job, failed_job):
    alice = caller()
    done = completed_job(alice)
    failed = failed_job(alice)

    assert all_ids(alice, status="completed") == [done["id"]]
    assert all_ids(alice, status="failed") == [failed["id"]]
    assert all_ids(alice, status="cancelled") == []


def test_filters_combine(caller):
    alice, bob = caller(actor="alice"), caller(actor="bob")
    submit_ids(alice, 1, project="web")
    wanted = submit_ids(bob, 1, project="web")
    submit_ids(bob, 1, project="api")

    assert all_ids(alice, actor="bob", project="web", job_type="echo") == wanted


BAD_FILTERS = {
    "unknown status": ({"status": "sleeping"}, "status"),
    "bad time": ({"created_after": "yesterday"}, "created_after"),
    "naive time": ({"created_before": "2024-01-01T00:00:00"}, "created_before"),
    "mistyped filter name": ({"stauts": "failed"}, "stauts"),
}


@pytest.mark.parametrize("query, field", BAD_FILTERS.values(), ids=BAD_FILTERS.keys())
def test_bad_filter_is_422(caller, expect_error, query, field):
    response = caller().get("/jobs", query_string=query)

    assert field in expect_error(response, 422, "validation_failed")["details"]
