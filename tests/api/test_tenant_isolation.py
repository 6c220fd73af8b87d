"""A tenant never sees another tenant's jobs or events: a foreign id answers like a missing one."""

from __future__ import annotations

import uuid

import pytest

JOB_ROUTES = [("get", ""), ("get", "/result"), ("get", "/logs"), ("get", "/events"),
              ("post", "/cancel"), ("delete", ""), ("post", "/retry")]


@pytest.fixture
def owner(caller):
    """Alice of tenant A."""
    return caller("viewer", actor="alice")


@pytest.fixture
def outsider(caller, tenant):
    """An admin of tenant B: the strongest role, still confined to its tenant."""
    return caller("admin", actor="alice", tenant_=f"{tenant}-b")


def comparable(error: dict, job_id: str) -> dict:
    """The error without what differs between two requests anyway: request id and the id asked."""
    assert error["details"] == {"id": job_id}
    return {k: v for k, v in error.items() if k not in {"request_id", "details"}}


@pytest.mark.parametrize("method, suffix", JOB_ROUTES)
def test_foreign_job_answers_404_exactly_like_a_missing_one(
        owner, outsider, sleeping_job, failed_job, expect_error, method, suffix):
    live = sleeping_job(owner)  # would be cancellable
    failed = failed_job(owner)  # would be retryable
    missing = str(uuid.uuid4())

    for job in (live, failed):
        foreign = getattr(outsider, method)(f"/jobs/{job['id']}{suffix}")
        absent = getattr(outsider, method)(f"/jobs/{missing}{suffix}")

        foreign_error = expect_error(foreign, 404, "not_found")
        absent_error = expect_error(absent, 404, "not_found")
        assert comparable(foreign_error, job["id"]) == comparable(absent_error, missing)

    live_now = owner.get(f"/jobs/{live['id']}").get_json()
    assert live_now["status"] in {"queued", "running"}
    assert live_now["cancel_requested"] is False
    assert owner.get(f"/jobs/{failed['id']}").get_json() == failed


def test_foreign_jobs_are_not_listed(owner, outsider):
    job_id = owner.submit("echo", {"message": "m"}).get_json()["id"]

    assert outsider.get("/jobs").get_json() == {"items": [], "next_cursor": None}
    assert outsider.get("/jobs", query_string={"actor": "alice"}).get_json()["items"] == []
    assert [j["id"] for j in owner.get("/jobs").get_json()["items"]] == [job_id]


def test_foreign_events_are_not_listed(caller, owner, outsider):
    job_id = owner.submit("echo", {"message": "m"}).get_json()["id"]
    ops = caller("operator", actor="olga")

    assert outsider.get("/events").get_json() == {"items": [], "next_cursor": None}
    assert outsider.get("/events", query_string={"job_id": job_id}).get_json()["items"] == []
    assert ops.get("/events", query_string={"job_id": job_id}).get_json()["items"] != []


def test_same_actor_name_in_another_tenant_owns_nothing_here(owner, outsider, sleeping_job,
                                                             expect_error):
    job = sleeping_job(owner)

    expect_error(outsider.post(f"/jobs/{job['id']}/cancel"), 404, "not_found")

    assert owner.get(f"/jobs/{job['id']}").get_json()["cancel_requested"] is False
