"""Roles and tenants on every artifact route: writers write, everyone reads, tenants are apart."""

from __future__ import annotations

import pytest

from tests.artifacts.conftest import b64


def _writes(artifact_id: str):
    return [("post", "/artifacts", {"json": {"name": "x", "type": "t"}}),
            ("put", f"/artifacts/{artifact_id}", {"json": {"metadata": {"x": 1}}}),
            ("put", f"/artifacts/{artifact_id}/content", {"data": b"bytes"}),
            ("delete", f"/artifacts/{artifact_id}", {})]


def _reads(artifact_id: str):
    return [("get", "/artifacts", {}), ("get", f"/artifacts/{artifact_id}", {}),
            ("get", f"/artifacts/{artifact_id}/versions", {}),
            ("get", f"/artifacts/{artifact_id}/download", {}),
            ("post", f"/artifacts/{artifact_id}/download-url", {"json": {}})]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_readers_cannot_write(caller, make_artifact, role, expect_error):
    artifact = make_artifact()
    reader = caller(role, actor="rita")
    for method, path, kwargs in _writes(artifact["id"]):
        expect_error(getattr(reader, method)(path, **kwargs), 403, "forbidden")
    after = caller("publisher").get(f"/artifacts/{artifact['id']}").get_json()
    assert after == artifact
    assert len(caller("viewer").get("/artifacts").get_json()["items"]) == 1


@pytest.mark.parametrize("role", ["viewer", "publisher", "operator", "admin"])
def test_every_role_reads(caller, make_artifact, role):
    artifact = make_artifact()
    reader = caller(role, actor="rita")
    for method, path, kwargs in _reads(artifact["id"]):
        response = getattr(reader, method)(path, **kwargs)
        assert response.status_code in (200, 201), (path, response.get_json())


def test_admin_writes(caller):
    admin = caller("admin", actor="ada")
    created = admin.post("/artifacts", json={"name": "x", "type": "t", "content": b64(b"1")})
    assert created.status_code == 201
    artifact_id = created.get_json()["id"]
    assert admin.put(f"/artifacts/{artifact_id}/content", data=b"2").status_code == 200
    assert admin.delete(f"/artifacts/{artifact_id}").status_code == 204


def test_unknown_role_grants_nothing(caller, expect_error):
    expect_error(caller("superuser").post("/artifacts", json={"name": "x", "type": "t"}),
                 403, "forbidden")


def test_missing_credentials_is_401(app, expect_error):
    expect_error(app.test_client().get("/artifacts"), 401, "unauthenticated")


def test_other_tenant_sees_404_everywhere(caller, make_artifact, expect_error):
    artifact = make_artifact()
    stranger = caller("admin", actor="eve", tenant_="someone-else")
    for method, path, kwargs in _reads(artifact["id"])[1:] + _writes(artifact["id"])[1:]:
        response = getattr(stranger, method)(path, **kwargs)
        expect_error(response, 404, "not_found")
    expect_error(stranger.get(f"/artifacts/{artifact['id']}/download?version=1"),
                 404, "not_found")
    assert stranger.get("/artifacts").get_json()["items"] == []
    assert caller("viewer").get(f"/artifacts/{artifact['id']}").get_json() == artifact
