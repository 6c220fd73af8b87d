"""Retention: expired artifacts and versions past the retention period are removed."""

from __future__ import annotations

import base64
import datetime as dt

from app.db import utcnow
from app.extensions import celery_app
from app.services import artifact_retention, artifacts
from tests.harness import wait_until

FAR = "2100-01-01T00:00:00+00:00"


def _create(owner, data: bytes, **fields) -> dict:
    body = {"name": "a", "type": "t", "content": base64.b64encode(data).decode(), **fields}
    response = owner.post("/artifacts", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _key(owner, artifact: dict, version: int = 1) -> str:
    items = owner.get(f"/artifacts/{artifact['id']}/versions").get_json()["items"]
    return next(v["storage_key"] for v in items if v["version"] == version)


def test_expired_artifacts_go_with_bytes_no_one_else_holds(app, caller):
    owner, operator = caller("publisher"), caller("operator", actor="olga")
    past = (utcnow() - dt.timedelta(seconds=1)).isoformat()
    expired = _create(owner, b"expired only", expires_at=past)
    shared = _create(owner, b"shared", expires_at=past)
    keeper = _create(owner, b"shared", expires_at=FAR)
    forever = _create(owner, b"no expiry")
    expired_key, shared_key = _key(owner, expired), _key(owner, shared)

    swept = artifact_retention.sweep()

    assert swept["artifacts"] >= 2
    for gone in (expired, shared):
        assert owner.get(f"/artifacts/{gone['id']}").status_code == 404
    for kept in (keeper, forever):
        assert owner.get(f"/artifacts/{kept['id']}").status_code == 200
    assert not artifacts.store().exists(expired_key)
    assert artifacts.store().exists(shared_key)  # still keeper's bytes
    assert owner.get(f"/artifacts/{keeper['id']}/download").data == b"shared"
    events = operator.get("/events?type=service_artifact_deleted").get_json()["items"]
    assert {e["data"]["artifact_id"] for e in events} == {expired["id"], shared["id"]}
    assert all(e["actor"] == "retention" for e in events)


def test_tenant_default_retention_sets_expiry(app_factory, caller):
    app_factory(artifact_retention_days=2)
    owner = caller("publisher")
    artifact = _create(owner, b"defaulted")
    expires = dt.datetime.fromisoformat(artifact["expires_at"])
    assert abs(expires - (utcnow() + dt.timedelta(days=2))) < dt.timedelta(minutes=1)
    explicit = _create(owner, b"explicit", expires_at=FAR)
    assert explicit["expires_at"].startswith("2100-01-01")
    artifact_retention.sweep(utcnow() + dt.timedelta(days=3))
    assert owner.get(f"/artifacts/{artifact['id']}").status_code == 404
    assert owner.get(f"/artifacts/{explicit['id']}").status_code == 200


def test_old_versions_go_after_retention_the_current_stays(app_factory, caller):
    app_factory(artifact_retention_days=1)
    owner = caller("publisher")
    artifact = _create(owner, b"version one", expires_at=FAR)
    owner.put(f"/artifacts/{artifact['id']}",
              json={"content": base64.b64encode(b"version two").decode()})
    old_key = _key(owner, artifact, 1)

    assert artifact_retention.sweep()["versions"] == 0  # young versions stay downloadable
    assert owner.get(f"/artifacts/{artifact['id']}/download?version=1").data == b"version one"

    artifact_retention.sweep(utcnow() + dt.timedelta(days=2))

    versions = owner.get(f"/artifacts/{artifact['id']}/versions").get_json()["items"]
    assert [v["version"] for v in versions] == [2]
    assert owner.get(f"/artifacts/{artifact['id']}/download?version=1").status_code == 404
    assert owner.get(f"/artifacts/{artifact['id']}/download").data == b"version two"
    assert not artifacts.store().exists(old_key)


def test_retention_task_runs_on_the_worker(worker, app, caller):
    owner = caller("publisher")
    past = (utcnow() - dt.timedelta(seconds=1)).isoformat()
    artifact = _create(owner, b"swept by beat's task", expires_at=past)
    celery_app.send_task("taskplane.artifacts.retention", queue="control")
    wait_until(lambda: owner.get(f"/artifacts/{artifact['id']}").status_code == 404, 20,
               message="the retention task to remove the artifact")
