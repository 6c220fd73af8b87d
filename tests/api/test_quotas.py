"""Quotas: admission against `max_active` and `max_per_hour`, overrides, `GET /quotas`, events."""

from __future__ import annotations

import json
import logging

import pytest

from app.extensions import db
from app.services import quotas

LONG_SLEEP = {"seconds": 600}


@pytest.fixture
def admin(caller):
    """An admin of this test's tenant."""
    return caller("admin", actor="root")


@pytest.fixture
def sleepers():
    """`sleepers.submit(owner)`: submit a long `sleep` job; every one is cancelled at teardown."""

    class Sleepers:
        def __init__(self):
            self.jobs: list[tuple] = []

        def submit(self, owner, project: str = "proj", headers: dict | None = None):
            body = {"job_type": "sleep", "payload": LONG_SLEEP, "project": project}
            response = owner.post("/jobs", json=body, headers=headers)
            if response.status_code == 202 and "Idempotent-Replayed" not in response.headers:
                self.jobs.append((owner, response.get_json()["id"]))
            return response

        def cancel(self, count: int) -> None:
            """Cancel the `count` oldest jobs submitted here; return once they have ended.

            A job the worker has started stays active until the worker stops it.
            """
            for owner, job_id in self.jobs[:count]:
                assert owner.post(f"/jobs/{job_id}/cancel").status_code == 202
            for owner, job_id in self.jobs[:count]:
                owner.wait_status(job_id, "cancelled")
            del self.jobs[:count]

    sleepers = Sleepers()
    yield sleepers
    sleepers.cancel(len(sleepers.jobs))


def set_quota(admin, tenant, job_type="sleep", **limits):
    response = admin.put(f"/quotas/{tenant}/{job_type}", json=limits)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def quota_row(owner, job_type="sleep") -> dict:
    listing = owner.get("/quotas").get_json()
    return next(item for item in listing["items"] if item["job_type"] == job_type)


def events_of(admin, event_type: str) -> list[dict]:
    return admin.get("/events", query_string={"type": event_type}).get_json()["items"]


def test_max_active_refuses_with_429_retry_after_usage_and_an_event(
        admin, caller, tenant, sleepers, expect_error, caplog):
    set_quota(admin, tenant, max_active=2)
    viewer = caller("viewer", actor="vic")
    assert [sleepers.submit(viewer).status_code for _ in range(2)] == [202, 202]

    with caplog.at_level(logging.WARNING, logger="taskplane.events"):
        refused = sleepers.submit(viewer, project="over")

    error = expect_error(refused, 429, "quota_exceeded")
    assert error["details"] == {"job_type": "sleep", "quota": "max_active", "limit": 2,
                                "usage": 2, "window": None, "retry_after": 30}
    assert refused.headers["Retry-After"] == "30"
    jobs = viewer.get("/jobs", query_string={"job_type": "sleep"}).get_json()["items"]
    assert len(jobs) == 2 and "over" not in {job["project"] for job in jobs}
    [event] = events_of(admin, "service_job_quota_exceeded")
    assert (event["actor"], event["project"], event["job_type"]) == ("vic", "over", "sleep")
    assert event["data"]["limit"] == 2 and event["data"]["usage"] == 2
    [line] = [r for r in caplog.records if "service_job_quota_exceeded" in r.getMessage()]
    assert line.levelno == logging.WARNING and json.loads(line.getMessage())["tenant"] == tenant


def test_ending_an_active_job_frees_its_place(admin, caller, tenant, sleepers):
    set_quota(admin, tenant, max_active=1)
    viewer = caller()
    assert sleepers.submit(viewer).status_code == 202
    assert sleepers.submit(viewer).status_code == 429

    sleepers.cancel(1)

    assert sleepers.submit(viewer).status_code == 202


def test_max_per_hour_counts_ended_jobs_and_says_when_to_retry(
        admin, caller, tenant, sleepers, expect_error):
    set_quota(admin, tenant, max_active=50, max_per_hour=2)
    viewer = caller()
    assert [sleepers.submit(viewer).status_code for _ in range(2)] == [202, 202]
    sleepers.cancel(2)  # no longer active, still submitted within the hour

    error = expect_error(sleepers.submit(viewer), 429, "quota_exceeded")

    assert error["details"]["quota"] == "max_per_hour"
    assert (error["details"]["limit"], error["details"]["usage"]) == (2, 2)
    assert error["details"]["window"] == "PT1H"
    assert 3500 < error["details"]["retry_after"] <= 3600
    assert quota_row(viewer)["submitted_last_hour"] == 2


def test_quotas_are_per_job_type_and_per_tenant(admin, caller, tenant, sleepers):
    set_quota(admin, tenant, max_active=1)
    viewer, stranger = caller(), caller(tenant_=f"{tenant}-other")
    assert sleepers.submit(viewer).status_code == 202
    assert sleepers.submit(viewer).status_code == 429

    assert sleepers.submit(stranger).status_code == 202
    echo = viewer.submit("echo", {"message": "other type"})
    assert echo.status_code == 202


def test_idempotent_replay_answers_the_first_job_without_using_quota(
        admin, caller, tenant, sleepers):
    set_quota(admin, tenant, max_active=1)
    viewer = caller()
    first = sleepers.submit(viewer, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 202

    replay = sleepers.submit(viewer, headers={"Idempotency-Key": "k-1"})

    assert replay.status_code == 202
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["id"] == first.get_json()["id"]
    assert quota_row(viewer)["submitted_last_hour"] == 1


def test_get_quotas_lists_every_job_type_with_catalog_defaults(app, caller):
    from app.extensions import runtime

    listing = caller("viewer").get("/quotas").get_json()

    assert [item["job_type"] for item in listing["items"]] == sorted(runtime.catalog)
    sleep = next(item for item in listing["items"] if item["job_type"] == "sleep")
    spec = runtime.catalog["sleep"]
    assert sleep == {"job_type": "sleep", "max_active": spec.max_active, "active": 0,
                     "max_per_hour": spec.max_per_hour, "submitted_last_hour": 0,
                     "percent": 0.0}
    assert listing["storage"] == {"max_artifact_bytes": None, "used_bytes": 0,
                                  "percent": None}


def test_overrides_show_in_get_quotas_with_the_higher_usage_percent(
        admin, caller, tenant, sleepers):
    viewer = caller()
    assert set_quota(admin, tenant, max_active=4, max_per_hour=10)["max_active"] == 4
    for _ in range(3):
        assert sleepers.submit(viewer).status_code == 202

    row = quota_row(viewer)

    assert row == {"job_type": "sleep", "max_active": 4, "active": 3, "max_per_hour": 10,
                   "submitted_last_hour": 3, "percent": 75.0}
    set_quota(admin, tenant, max_active=None)  # back to the catalog's default
    row = quota_row(viewer)
    assert row["max_active"] == 100 and row["max_per_hour"] == 10
    assert row["percent"] == 30.0


def test_only_an_admin_sets_quotas_and_only_for_its_own_tenant(
        admin, caller, tenant, expect_error):
    expect_error(caller("operator").put(f"/quotas/{tenant}/sleep", json={"max_active": 1}),
                 403, "forbidden")
    expect_error(admin.put(f"/quotas/{tenant}-other/sleep", json={"max_active": 1}),
                 404, "not_found")
    expect_error(admin.put(f"/quotas/{tenant}/no-such-type", json={"max_active": 1}),
                 404, "not_found")
    for body in ({}, {"max_active": -1}, {"max_active": "many"}, {"tenant": "x"}):
        expect_error(admin.put(f"/quotas/{tenant}/sleep", json=body), 422, "validation_failed")
    assert quota_row(admin)["max_active"] == 100  # nothing changed


def test_warning_and_paging_events_once_per_crossing_then_rearmed(
        admin, caller, tenant, sleepers):
    set_quota(admin, tenant, max_active=10)
    viewer = caller()
    for _ in range(7):
        assert sleepers.submit(viewer).status_code == 202
    assert events_of(admin, "service_quota_warning") == []

    for _ in range(3):  # 80 %, 90 %, 100 %
        assert sleepers.submit(viewer).status_code == 202
    for _ in range(3):
        assert sleepers.submit(viewer).status_code == 429

    [warning] = events_of(admin, "service_quota_warning")
    [page] = events_of(admin, "service_quota_exhausted")
    assert warning["data"]["percent"] == 80.0 and warning["data"]["severity"] == "warning"
    assert page["data"]["percent"] == 100.0 and page["data"]["severity"] == "page"
    assert page["job_type"] == "sleep" and page["tenant"] == tenant

    sleepers.cancel(8)  # usage falls to 20 %: the next admission re-arms both
    assert sleepers.submit(viewer).status_code == 202
    for _ in range(5):  # 30 % … 80 % again
        assert sleepers.submit(viewer).status_code == 202
    assert len(events_of(admin, "service_quota_warning")) == 2
    assert len(events_of(admin, "service_quota_exhausted")) == 1


def test_storage_limit_override_null_and_unlimited(app_factory, caller, tenant):
    client = app_factory(artifact_quota_bytes=5000).test_client()
    from tests.conftest import Caller

    admin = Caller(client, "root", "admin", tenant)
    assert admin.get("/quotas").get_json()["storage"]["max_artifact_bytes"] == 5000

    response = admin.put(f"/quotas/{tenant}", json={"max_artifact_bytes": 1234})

    assert response.status_code == 200
    assert response.get_json()["max_artifact_bytes"] == 1234
    assert quotas.storage_limit(db.session, tenant) == 1234
    admin.put(f"/quotas/{tenant}", json={"max_artifact_bytes": 0})
    assert quotas.storage_limit(db.session, tenant) is None  # 0: unlimited
    admin.put(f"/quotas/{tenant}", json={"max_artifact_bytes": None})
    assert admin.get("/quotas").get_json()["storage"]["max_artifact_bytes"] == 5000
    assert admin.put(f"/quotas/{tenant}-other",
                     json={"max_artifact_bytes": 1}).status_code == 404
    assert Caller(client, "op", "operator", tenant).put(
        f"/quotas/{tenant}", json={"max_artifact_bytes": 1}).status_code == 403


def test_retrying_a_job_needs_a_place_under_max_active_but_no_hourly_one(
        admin, caller, tenant, sleepers, expect_error):
    set_quota(admin, tenant, max_active=1, max_per_hour=2)
    viewer = caller()
    first = sleepers.submit(viewer).get_json()["id"]
    sleepers.cancel(1)
    assert sleepers.submit(viewer).status_code == 202  # the one active place is taken

    error = expect_error(viewer.post(f"/jobs/{first}/retry"), 429, "quota_exceeded")

    assert error["details"]["quota"] == "max_active"
    assert viewer.get(f"/jobs/{first}").get_json()["status"] == "cancelled"
    sleepers.cancel(1)
    retried = viewer.post(f"/jobs/{first}/retry")  # 2 of 2 submitted this hour: still fine
    assert retried.status_code == 202
    sleepers.jobs.append((viewer, first))
    assert quota_row(viewer)["submitted_last_hour"] == 2
