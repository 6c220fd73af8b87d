"""Responses are rendered by the resources' schemas from the objects the services return.

Every field a schema documents is in the body (null, never absent), nothing else is, and a
field derived from the object (a job's timeline and artifacts, an artifact's `has_content`,
a job type's policies) is documented with the type it is served as.
"""

from __future__ import annotations

import pytest

from app.extensions import db, runtime
from app.models import Artifact, Job


@pytest.fixture
def components(app):
    """The schemas of `/openapi.json`, by name."""
    return app.test_client().get("/openapi.json").get_json()["components"]["schemas"]


def documented(components, name: str) -> set[str]:
    """The property names of an OpenAPI component."""
    return set(components[name]["properties"])


def test_a_job_has_every_documented_field_and_its_row_values(
        worker, caller, components):
    olga = caller("operator", actor="olga")
    job_id = olga.submit("py-lines", {"count": 1, "text": "made"}, project="site").get_json()["id"]
    shown = olga.wait_status(job_id, ("completed", "failed"), timeout=30)
    listed = olga.get("/jobs", query_string={"project": "site"}).get_json()
    row = db.session.get(Job, job_id)
    assert set(shown) == documented(components, "Job")
    assert [set(item) for item in listed["items"]] == [documented(components, "JobSummary")]
    assert set(listed) == {"items", "next_cursor"} and listed["next_cursor"] is None
    for name in documented(components, "JobSummary"):
        value = getattr(row, name)
        assert shown[name] == (value.isoformat() if hasattr(value, "isoformat") else value), name
    assert listed["items"][0] == {k: v for k, v in shown.items()
                                  if k not in ("timeline", "artifacts")}
    assert [t["status"] for t in shown["timeline"]] == [t.status for t in row.transitions]
    assert [a["name"] for a in shown["artifacts"]] == ["report.txt"]
    assert set(shown["artifacts"][0]) == documented(components, "ArtifactRef")
    db.session.remove()


def test_a_submitted_job_has_an_empty_artifact_list_not_a_missing_one(caller, sleeping_job):
    job = sleeping_job(caller("operator"))
    assert job["artifacts"] == [] and job["timeline"][0]["status"] == "queued"


def test_an_artifact_shows_its_stored_metadata_manifest_and_content_flag(caller, components):
    pat = caller("publisher", actor="pat")
    empty = pat.post("/artifacts", json={"name": "n", "type": "doc", "metadata": {"k": 1}})
    full = pat.post("/artifacts", json={"name": "m", "type": "doc", "content": "aGk="})
    assert (empty.status_code, full.status_code) == (201, 201)
    empty, full = empty.get_json(), full.get_json()
    rows = {a.id: a for a in (db.session.get(Artifact, empty["id"]),
                              db.session.get(Artifact, full["id"]))}
    db.session.remove()
    for body in (empty, full):
        assert set(body) == documented(components, "Artifact")
        row = rows[body["id"]]
        assert body["metadata"] == row.meta and body["manifest"] == row.manifest_id
    assert (empty["has_content"], empty["manifest"], empty["project"]) == (False, None, None)
    assert full["has_content"] is True and full["manifest"]
    listed = pat.get("/artifacts").get_json()["items"]
    assert sorted(listed, key=lambda a: a["id"]) == sorted([empty, full], key=lambda a: a["id"])


def test_job_types_render_each_catalog_entry(caller, components):
    items = caller("viewer").get("/job-types").get_json()["items"]
    assert [entry["name"] for entry in items] == list(runtime.catalog)
    for entry in items:
        assert set(entry) == documented(components, "JobType")
        assert isinstance(entry["payload_schema"], dict) and entry["payload_schema"]["type"]


def test_derived_fields_are_documented_with_the_type_they_are_served_as(components):
    job, artifact, job_type = (components[name]["properties"]
                               for name in ("Job", "Artifact", "JobType"))
    assert job["timeline"] == {"type": "array",
                               "items": {"$ref": "#/components/schemas/Transition"}}
    assert job["artifacts"] == {"type": "array",
                                "items": {"$ref": "#/components/schemas/ArtifactRef"}}
    assert artifact["has_content"] == {"type": "boolean"}
    assert artifact["metadata"]["type"] == job_type["payload_schema"]["type"] == "object"
    assert artifact["manifest"] == {"type": "string", "nullable": True}
    for name, component in (("retry_policy", "RetryPolicy"), ("time_limits", "TimeLimits"),
                            ("default_quota", "QuotaDefaults")):
        assert job_type[name] == {"$ref": f"#/components/schemas/{component}"}
    assert list(components["TimeLimits"]["properties"]) == ["soft_seconds", "hard_seconds"]

