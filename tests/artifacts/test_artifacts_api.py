"""`/artifacts`: create, list, show, update, upload, delete, versions and events."""

from __future__ import annotations

import io
import os

import pytest

from tests.artifacts.conftest import b64, sha256


def test_create_with_inline_content_answers_201_with_manifest(publisher, make_artifact):
    artifact = make_artifact(b"hello world", metadata={"build": 7}, project="web",
                             content_type="text/plain")
    assert artifact["digest"] == sha256(b"hello world")
    assert artifact["size"] == 11 and artifact["version"] == 1 and artifact["has_content"]
    assert artifact["manifest"] and artifact["metadata"] == {"build": 7}
    assert artifact["created_by"] == "pat" and artifact["project"] == "web"
    shown = publisher.get(f"/artifacts/{artifact['id']}")
    assert shown.status_code == 200 and shown.get_json() == artifact
    assert shown.headers["ETag"]


def test_create_without_content_then_download_is_404(publisher, make_artifact, expect_error):
    artifact = make_artifact(None)
    assert artifact["has_content"] is False and artifact["version"] == 0
    assert artifact["digest"] is None and artifact["manifest"] is None
    expect_error(publisher.get(f"/artifacts/{artifact['id']}/download"), 404, "not_found")


def test_create_sets_location_and_etag(publisher):
    response = publisher.post("/artifacts", json={"name": "a", "type": "log"})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/artifacts/{response.get_json()['id']}"
    assert response.headers["ETag"].startswith('"')


@pytest.mark.parametrize("body, field", [
    ({"name": "a", "type": "log", "content": "not base64!"}, "content"),
    ({"name": "a\x00b", "type": "log"}, "name"),
    ({"name": "", "type": "log"}, "name"),
    ({"type": "log"}, "name"),
    ({"name": "a", "type": "log", "id": "mine"}, "id"),
    ({"name": "a", "type": "log", "tenant": "other"}, "tenant"),
    ({"name": "a", "type": "log", "digest": "sha256:00"}, "digest"),
    ({"name": "a", "type": "log", "content_type": "no type"}, "content_type"),
])
def test_bad_body_is_422_and_creates_nothing(publisher, body, field, expect_error):
    error = expect_error(publisher.post("/artifacts", json=body), 422, "validation_failed")
    assert field in error["details"]
    assert publisher.get("/artifacts").get_json()["items"] == []


def test_inline_content_over_body_limit_is_413(publisher, expect_error):
    body = {"name": "big", "type": "blob", "content": b64(os.urandom(1024 * 1024))}
    expect_error(publisher.post("/artifacts", json=body), 413, "payload_too_large")
    assert publisher.get("/artifacts").get_json()["items"] == []


def test_list_filters_and_pages(publisher, make_artifact):
    made = [make_artifact(name=f"n{i % 2}", type="log" if i < 3 else "report",
                          project="p1" if i % 3 else "p2") for i in range(5)]
    page = publisher.get("/artifacts?limit=2").get_json()
    seen = [a["id"] for a in page["items"]]
    while page["next_cursor"]:
        page = publisher.get(f"/artifacts?limit=2&cursor={page['next_cursor']}").get_json()
        seen += [a["id"] for a in page["items"]]
    assert seen == [a["id"] for a in reversed(made)]
    names = {a["id"] for a in publisher.get("/artifacts?name=n0").get_json()["items"]}
    assert names == {a["id"] for a in made if a["name"] == "n0"}
    typed = publisher.get("/artifacts?type=report&project=p1").get_json()["items"]
    assert {a["id"] for a in typed} == {a["id"] for a in made
                                        if a["type"] == "report" and a["project"] == "p1"}


def test_unknown_filter_is_422(publisher, expect_error):
    expect_error(publisher.get("/artifacts?colour=red"), 422, "validation_failed")


def test_update_metadata_with_current_etag(publisher, make_artifact):
    artifact = make_artifact()
    tag = publisher.get(f"/artifacts/{artifact['id']}").headers["ETag"]
    response = publisher.put(f"/artifacts/{artifact['id']}", headers={"If-Match": tag},
                             json={"metadata": {"k": "v"}, "name": "renamed"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["metadata"] == {"k": "v"} and body["name"] == "renamed"
    assert body["version"] == 1 and body["digest"] == artifact["digest"]
    assert response.headers["ETag"] != tag


def test_content_type_without_content_is_422(publisher, make_artifact, expect_error):
    artifact = make_artifact()
    response = publisher.put(f"/artifacts/{artifact['id']}", json={"content_type": "text/csv"})
    assert "content_type" in expect_error(response, 422, "validation_failed")["details"]
    assert publisher.get(f"/artifacts/{artifact['id']}").get_json() == artifact


def test_stale_if_match_is_412_and_changes_nothing(publisher, make_artifact, expect_error):
    artifact = make_artifact()
    stale = publisher.get(f"/artifacts/{artifact['id']}").headers["ETag"]
    assert publisher.put(f"/artifacts/{artifact['id']}", json={"metadata": {"a": 1}},
                         headers={"If-Match": stale}).status_code == 200
    before = publisher.get(f"/artifacts/{artifact['id']}").get_json()
    for path, kwargs in ((f"/artifacts/{artifact['id']}",
                          {"json": {"metadata": {"b": 2}, "content": b64(b"new")}}),
                         (f"/artifacts/{artifact['id']}/content", {"data": b"new bytes"})):
        response = publisher.put(path, headers={"If-Match": stale}, **kwargs)
        expect_error(response, 412, "precondition_failed")
    assert publisher.get(f"/artifacts/{artifact['id']}").get_json() == before
    assert len(publisher.get(f"/artifacts/{artifact['id']}/versions").get_json()["items"]) == 1


def test_put_replaces_content_and_keeps_old_version(publisher, make_artifact):
    artifact = make_artifact(b"one")
    response = publisher.put(f"/artifacts/{artifact['id']}",
                             json={"content": b64(b"two"), "content_type": "text/x-two"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == 2 and body["digest"] == sha256(b"two")
    assert body["content_type"] == "text/x-two" and body["manifest"] != artifact["manifest"]
    versions = publisher.get(f"/artifacts/{artifact['id']}/versions").get_json()["items"]
    assert [(v["version"], v["digest"]) for v in versions] == [(2, sha256(b"two")),
                                                               (1, sha256(b"one"))]
    assert versions[0]["id"] == body["manifest"] and versions[0]["created_by"] == "pat"
    old = publisher.get(f"/artifacts/{artifact['id']}/download?version=1")
    assert old.status_code == 200 and old.data == b"one"
    assert publisher.get(f"/artifacts/{artifact['id']}/download").data == b"two"


def test_raw_upload_larger_than_body_limit(publisher, make_artifact):
    artifact = make_artifact(None)
    data = os.urandom(3 * 1024 * 1024 + 17)  # three times the JSON body limit
    response = publisher.put(f"/artifacts/{artifact['id']}/content", data=data,
                             headers={"Content-Type": "application/x-tar"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["digest"] == sha256(data) and body["size"] == len(data)
    assert body["content_type"] == "application/x-tar" and body["version"] == 1
    assert publisher.get(f"/artifacts/{artifact['id']}/download").data == data


def test_upload_over_artifact_limit_is_413_and_changes_nothing(app_factory, storage_url,
                                                               caller, expect_error,
                                                               stored_keys):
    app_factory(storage_url=storage_url, artifact_max_bytes=1000)
    owner = caller("publisher")
    artifact = owner.post("/artifacts", json={"name": "a", "type": "t",
                                              "content": b64(b"small")}).get_json()
    keys = stored_keys()
    with_length = {"data": b"x" * 1001}
    streamed = {"input_stream": io.BytesIO(b"y" * 1200),  # no Content-Length: counted
                "environ_overrides": {"wsgi.input_terminated": True}}
    for kwargs in (with_length, streamed):
        response = owner.put(f"/artifacts/{artifact['id']}/content", **kwargs)
        expect_error(response, 413, "payload_too_large")
    assert owner.get(f"/artifacts/{artifact['id']}").get_json()["version"] == 1
    assert {k for k in stored_keys() if not k.startswith("tmp/")} == keys


def test_delete_removes_artifact_and_unshared_bytes(publisher, make_artifact, stored_keys,
                                                    expect_error):
    shared = make_artifact(b"shared bytes")
    other = make_artifact(b"shared bytes", name="copy")
    alone = make_artifact(b"only mine")
    key = publisher.get(f"/artifacts/{alone['id']}/versions").get_json()["items"][0]
    shared_key = "sha256/" + shared["digest"][7:9] + "/" + shared["digest"][7:]
    assert key["storage_key"] in stored_keys() and shared_key in stored_keys()
    assert publisher.delete(f"/artifacts/{alone['id']}").status_code == 204
    assert publisher.delete(f"/artifacts/{shared['id']}").status_code == 204
    expect_error(publisher.get(f"/artifacts/{alone['id']}"), 404, "not_found")
    expect_error(publisher.delete(f"/artifacts/{alone['id']}"), 404, "not_found")
    assert key["storage_key"] not in stored_keys()
    assert shared_key in stored_keys()  # still referenced by `other`
    assert publisher.get(f"/artifacts/{other['id']}/download").data == b"shared bytes"


def test_same_bytes_are_stored_once(make_artifact, stored_keys):
    make_artifact(b"twice")
    make_artifact(b"twice", name="again")
    assert len([k for k in stored_keys() if k.startswith("sha256/")]) == 1


def test_governance_events(publisher, caller, make_artifact):
    artifact = make_artifact(project="web")
    publisher.put(f"/artifacts/{artifact['id']}", json={"metadata": {"x": 1}},
                  headers={"X-Reason": "approved"})
    publisher.delete(f"/artifacts/{artifact['id']}")
    operator = caller("operator", actor="olga")
    found = [e for e in operator.get("/events?limit=50").get_json()["items"]
             if e["data"].get("artifact_id") == artifact["id"]]
    assert [e["type"] for e in found] == ["service_artifact_deleted",
                                          "service_artifact_updated",
                                          "service_artifact_created"]
    assert {(e["actor"], e["project"]) for e in found} == {("pat", "web")}
    assert found[1]["data"]["reason"] == "approved"
    assert found[2]["data"]["digest"] == artifact["digest"]
