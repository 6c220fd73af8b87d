"""Downloads: streamed bytes, ETag, Range, conditional requests, signed links."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import pytest

from tests.artifacts.conftest import b64

DATA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def artifact(make_artifact):
    """An artifact holding DATA."""
    return make_artifact(DATA, name="data.bin", content_type="application/octet-stream")


def test_download_streams_bytes_with_etag_and_length(publisher, artifact):
    response = publisher.get(f"/artifacts/{artifact['id']}/download")
    assert response.status_code == 200 and response.data == DATA
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["ETag"] == f'"{artifact["digest"][7:]}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("header, start, stop", [
    ("bytes=0-99", 0, 100), ("bytes=10000-", 10000, 10240), ("bytes=-40", 10200, 10240),
    ("bytes=5000-99999", 5000, 10240)])
def test_range_answers_206(publisher, artifact, header, start, stop):
    response = publisher.get(f"/artifacts/{artifact['id']}/download", headers={"Range": header})
    assert response.status_code == 206
    assert response.data == DATA[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"
    assert response.headers["Content-Length"] == str(stop - start)


def test_unsatisfiable_range_is_416(publisher, artifact, expect_error):
    response = publisher.get(f"/artifacts/{artifact['id']}/download",
                             headers={"Range": "bytes=20000-"})
    expect_error(response, 416, "range_not_satisfiable")
    assert response.headers["Content-Range"] == f"bytes */{len(DATA)}"


def test_if_range_with_old_etag_sends_everything(publisher, artifact):
    response = publisher.get(f"/artifacts/{artifact['id']}/download",
                             headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert response.status_code == 200 and response.data == DATA


def test_if_none_match_answers_304(publisher, artifact):
    tag = publisher.get(f"/artifacts/{artifact['id']}/download").headers["ETag"]
    response = publisher.get(f"/artifacts/{artifact['id']}/download",
                             headers={"If-None-Match": tag})
    assert response.status_code == 304 and response.data == b""
    other = publisher.get(f"/artifacts/{artifact['id']}/download",
                          headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_unknown_version_is_404(publisher, artifact, expect_error):
    expect_error(publisher.get(f"/artifacts/{artifact['id']}/download?version=9"),
                 404, "not_found")


def _link(owner, artifact_id, **body):
    response = owner.post(f"/artifacts/{artifact_id}/download-url", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_signed_link_needs_no_credentials(app, viewer, artifact):
    link = _link(viewer, artifact["id"], expires_in=600)
    assert link["expires_at"]
    response = app.test_client().get(_path(link["url"]))  # no identity headers at all
    assert response.status_code == 200 and response.data == DATA
    ranged = app.test_client().get(_path(link["url"]), headers={"Range": "bytes=1-2"})
    assert ranged.status_code == 206 and ranged.data == DATA[1:3]


def test_signed_link_is_bound_to_its_version(app, publisher, artifact):
    link = _link(publisher, artifact["id"])
    publisher.put(f"/artifacts/{artifact['id']}", json={"content": b64(b"newer")})
    assert app.test_client().get(_path(link["url"])).data == DATA
    newer = _link(publisher, artifact["id"])
    assert app.test_client().get(_path(newer["url"])).data == b"newer"


def test_tampered_link_is_403(app, publisher, artifact, make_artifact, expect_error):
    path = _path(_link(publisher, artifact["id"])["url"])
    token = path.rsplit("/", 1)[1]
    payload, rest = token.split(".", 1)
    other = make_artifact(b"other")
    forged = payload.replace(payload[2:6], "AAAA") + "." + rest
    for bad in (forged, token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
                other["id"]):
        expect_error(app.test_client().get(f"/artifacts/signed/{bad}"), 403, "forbidden")


def test_link_lifetime_defaults_and_is_bounded(app_factory, storage_url, caller,
                                              make_artifact, expect_error):
    app_factory(storage_url=storage_url, download_url_seconds=120,
                download_url_seconds_max=600)
    artifact = make_artifact()
    link = _link(caller("viewer"), artifact["id"])
    left = dt.datetime.fromisoformat(link["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=100) < left <= dt.timedelta(seconds=120)
    response = caller("viewer").post(f"/artifacts/{artifact['id']}/download-url",
                                     json={"expires_in": 601})
    assert "expires_in" in expect_error(response, 422, "validation_failed")["details"]


def test_expired_link_is_403(app, publisher, artifact, expect_error):
    path = _path(_link(publisher, artifact["id"], expires_in=1)["url"])
    time.sleep(2.1)
    expect_error(app.test_client().get(path), 403, "forbidden")


def test_key_rotation_newest_signs_all_verify(app_factory, storage_url, caller, make_artifact,
                                              expect_error):
    app_factory(storage_url=storage_url, signing_keys=("key-one",))
    artifact = make_artifact(b"rotated")
    old_path = _path(_link(caller("viewer"), artifact["id"])["url"])
    rotated = app_factory(storage_url=storage_url, signing_keys=("key-two", "key-one"))
    assert rotated.test_client().get(old_path).data == b"rotated"
    new_path = _path(_link(caller("viewer"), artifact["id"])["url"])
    only_old = app_factory(storage_url=storage_url, signing_keys=("key-one",))
    expect_error(only_old.test_client().get(new_path), 403, "forbidden")
    retired = app_factory(storage_url=storage_url, signing_keys=("key-two",))
    expect_error(retired.test_client().get(old_path), 403, "forbidden")
    assert retired.test_client().get(new_path).data == b"rotated"


def test_signed_link_of_a_deleted_artifact_is_404(app, publisher, artifact, expect_error):
    path = _path(_link(publisher, artifact["id"])["url"])
    publisher.delete(f"/artifacts/{artifact['id']}")
    expect_error(app.test_client().get(path), 404, "not_found")
