"""Hostile input: every integer, string and list a request carries fits the database (422)."""

from __future__ import annotations

import pytest

from app.api.schemas import INT32, INT64, STRING_MAX

HUGE = 10**30  # over any 64-bit column: OverflowError on SQLite, out of range on PostgreSQL


def test_a_huge_storage_limit_is_422_and_changes_nothing(caller, tenant, expect_error):
    admin = caller("admin")
    before = admin.get("/quotas").get_json()["storage"]

    error = expect_error(admin.put(f"/quotas/{tenant}", json={"max_artifact_bytes": HUGE}),
                         422, "validation_failed")

    assert "max_artifact_bytes" in error["details"]
    assert admin.get("/quotas").get_json()["storage"] == before
    biggest = admin.put(f"/quotas/{tenant}", json={"max_artifact_bytes": INT64.max})
    assert biggest.status_code == 200
    assert biggest.get_json()["max_artifact_bytes"] == INT64.max


@pytest.mark.parametrize("field", ["max_active", "max_per_hour"])
def test_a_huge_job_type_limit_is_422(caller, tenant, expect_error, field):
    admin = caller("admin")

    error = expect_error(admin.put(f"/quotas/{tenant}/echo", json={field: HUGE}), 422,
                         "validation_failed")

    assert field in error["details"]


@pytest.fixture
def artifact(caller):
    """An artifact with one content version, published by an admin of this test's tenant."""
    answer = caller("admin").post("/artifacts", json={"name": "a.txt", "type": "doc",
                                                      "content": "aGk="})
    assert answer.status_code == 201
    return answer.get_json()


@pytest.mark.parametrize("version", [HUGE, -HUGE, INT64.max + 1, INT32.max + 1])
def test_a_huge_version_of_a_download_is_422(caller, artifact, expect_error, version):
    admin = caller("admin")

    error = expect_error(admin.get(f"/artifacts/{artifact['id']}/download",
                                   query_string={"version": version}), 422,
                         "validation_failed")
    assert "version" in error["details"]
    error = expect_error(admin.post(f"/artifacts/{artifact['id']}/download-url",
                                    json={"version": version}), 422, "validation_failed")
    assert "version" in error["details"]


def test_the_largest_version_a_column_holds_is_a_plain_404(caller, artifact, expect_error):
    admin = caller("admin")

    expect_error(admin.get(f"/artifacts/{artifact['id']}/download",
                           query_string={"version": INT32.max}), 404, "not_found")
    expect_error(admin.get("/jobs/some-id/logs", query_string={"since": INT32.max}), 404,
                 "not_found")


@pytest.mark.parametrize("path, query", [
    ("/jobs", {"job_type": "x" * (STRING_MAX + 1)}),
    ("/jobs", {"cursor": "x" * 513}),
    ("/artifacts", {"name": "x" * (STRING_MAX + 1)}),
    ("/events", {"job_id": "x" * (STRING_MAX + 1)}),
    ("/jobs/some-id/logs", {"since": HUGE}),
])
def test_an_unbounded_query_value_is_422(caller, expect_error, path, query):
    error = expect_error(caller("admin").get(path, query_string=query), 422,
                         "validation_failed")

    assert set(error["details"]) == set(query)


def test_a_long_content_type_is_422_and_stores_nothing(caller, expect_error):
    admin = caller("admin")
    body = {"name": "a.txt", "type": "doc", "content": "aGk=",
            "content_type": "text/" + "x" * 300}

    error = expect_error(admin.post("/artifacts", json=body), 422, "validation_failed")

    assert "content_type" in error["details"]
    assert admin.get("/artifacts").get_json()["items"] == []


def test_a_path_part_over_its_bound_is_404_before_any_lookup(caller, expect_error):
    expect_error(caller("admin").get("/jobs/" + "x" * (STRING_MAX + 1)), 404, "not_found")


def test_the_openapi_document_shows_the_bounds(app):
    spec = app.test_client().get("/openapi.json").get_json()

    storage = spec["components"]["schemas"]["StorageQuotaUpdate"]["properties"]
    assert storage["max_artifact_bytes"]["maximum"] == INT64.max
    download = spec["paths"]["/artifacts/{artifact_id}/download"]
    params = {p["name"]: p["schema"] for p in download["get"]["parameters"]
              + download.get("parameters", [])}
    assert params["version"]["maximum"] == INT32.max
    assert params["artifact_id"]["maxLength"] == STRING_MAX


@pytest.mark.parametrize("last_id", [str(INT32.max + 1), "9" * 18])
def test_a_last_event_id_over_the_log_id_column_is_422(caller, expect_error, last_id):
    alice = caller()
    job = alice.submit("echo", {"message": "hi"}).get_json()

    error = expect_error(alice.get(f"/jobs/{job['id']}/events",
                                   headers={"Last-Event-ID": last_id}), 422,
                         "validation_failed")

    assert "Last-Event-ID" in error["details"]
