"""Stored bytes that go missing or rot: downloads refuse them, `verify` and the scrub find them.

The faults are real: the object is deleted from the folder or the bucket, or one of its
bytes is flipped in place, under a gunicorn serving the API from that store. Each test
has a database of its own, so `verify` and the scrub see only this test's objects.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.services import artifact_integrity, artifacts
from app.services.job_ends import redis_client
from app.storage import LocalStore, key_for
from tests.conftest import migrated_database, worker_env
from tests.harness import (
    CeleryBeat,
    CeleryWorker,
    Gunicorn,
    http_request,
    wait_until,
)

MIB = 1024 * 1024
SMALL = os.urandom(200_000)  # checked whole before any byte is sent
LARGE = os.urandom(3 * MIB + 17)  # over the 1 MiB set below: checked while it is sent


@pytest.fixture
def own_database(database_url, tmp_path):
    """A fresh migrated database of this test, on the session's kind of server."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with migrated_database(kind, tmp_path, "taskplane_integrity") as url:
        yield url


@pytest.fixture
def app(app_factory, storage_url, own_database):
    """The test's app on its own database and store."""
    return app_factory(storage_url=storage_url, database_url=own_database,
                       artifact_verify_before_send_bytes=MIB)


@pytest.fixture
def env(settings, storage_url, own_database):
    """What a process of this test runs with: its database and store."""
    return dict(worker_env(settings), TASKPLANE_STORAGE_URL=storage_url,
                TASKPLANE_DATABASE_URL=own_database,
                TASKPLANE_ARTIFACT_VERIFY_BEFORE_SEND_BYTES=str(MIB))


@pytest.fixture
def web(app, env, tmp_path):
    """gunicorn on the test's database and store."""
    server = Gunicorn("app:create_app()", env, tmp_path / "gunicorn.log", workers=1)
    yield server
    server.stop()


def remove_object(artifact: dict) -> None:
    """Delete the artifact's bytes from the store behind the service's back."""
    store = artifacts.store()
    key = _key(artifact)
    if isinstance(store, LocalStore):
        (store.root / key).unlink()
    else:
        store.client.delete_object(Bucket=store.bucket, Key=store._key(key))


def flip_byte(artifact: dict, offset: int) -> None:
    """Flip one stored byte of the artifact in place (same size, wrong digest)."""
    store = artifacts.store()
    key = _key(artifact)
    if isinstance(store, LocalStore):
        with (store.root / key).open("r+b") as handle:
            handle.seek(offset)
            byte = handle.read(1)
            handle.seek(offset)
            handle.write(bytes([byte[0] ^ 0xFF]))
        return
    data = bytearray(store.client.get_object(Bucket=store.bucket,
                                             Key=store._key(key))["Body"].read())
    data[offset] ^= 0xFF
    store.client.put_object(Bucket=store.bucket, Key=store._key(key), Body=bytes(data))


def _key(artifact: dict) -> str:
    return key_for(artifact["digest"].removeprefix("sha256:"))


def upload(make_artifact, data: bytes, name: str) -> dict:
    """A new artifact holding `data`."""
    return make_artifact(data, name=name)


def big_artifact(publisher, data: bytes, name: str) -> dict:
    """An artifact whose content is uploaded raw (over the JSON body limit)."""
    created = publisher.post("/artifacts", json={"name": name, "type": "blob"}).get_json()
    answer = publisher.put(f"/artifacts/{created['id']}/content", data=data,
                           content_type="application/octet-stream")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def get(port: int, path: str, headers: dict) -> tuple[int, dict, bytes, bool]:
    """GET `path`: (status, headers, bytes received, whether the body came whole)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        try:
            return answer.status, dict(answer.getheaders()), answer.read(), True
        except http.client.IncompleteRead as exc:
            return answer.status, dict(answer.getheaders()), exc.partial, False
    finally:
        conn.close()


def events_of(operator, kind: str) -> list[dict]:
    """The tenant's governance events of type `kind`."""
    return operator.get(f"/events?type={kind}").get_json()["items"]


def test_a_small_object_missing_or_rotten_answers_a_clear_error_before_any_byte(
        web, publisher, caller, make_artifact):
    headers = publisher.headers
    gone = upload(make_artifact, SMALL, "gone.bin")
    rotten = upload(make_artifact, SMALL[::-1], "rotten.bin")
    status, _, body, _ = get(web.port, f"/artifacts/{gone['id']}/download", headers)
    assert (status, body) == (200, SMALL)  # before the faults, both serve
    remove_object(gone)
    flip_byte(rotten, len(SMALL) - 1)

    for artifact, code in ((gone, "artifact_missing"), (rotten, "artifact_corrupt")):
        for extra in ({}, {"Range": "bytes=0-99"}):
            status, answer_headers, body, _ = get(
                web.port, f"/artifacts/{artifact['id']}/download", {**headers, **extra})
            assert status == 502, body
            assert answer_headers["Content-Type"] == "application/json"
            assert json.loads(body)["error"]["code"] == code

    operator = caller("operator", actor="olga")
    [missing] = {e["data"]["artifact_id"]: e for e in
                 events_of(operator, "service_artifact_missing")}.values()
    assert missing["data"]["artifact_id"] == gone["id"]
    assert missing["data"]["digest"] == gone["digest"] and missing["data"]["source"] == "download"
    corrupt = events_of(operator, "service_artifact_corrupt")
    assert {e["data"]["artifact_id"] for e in corrupt} == {rotten["id"]}
    metrics = http_request(web.port, "GET", "/metrics")[1].decode()
    assert 'service_artifact_integrity_failures_total{kind="missing",source="download"} 2.0' \
        in metrics
    assert 'service_artifact_integrity_failures_total{kind="corrupt",source="download"} 2.0' \
        in metrics


def test_a_large_rotten_object_is_cut_short_never_sent_whole(web, publisher, caller):
    headers = publisher.headers
    artifact = big_artifact(publisher, LARGE, "large.bin")
    status, _, body, whole = get(web.port, f"/artifacts/{artifact['id']}/download", headers)
    assert (status, whole, body == LARGE) == (200, True, True)
    flip_byte(artifact, 5)  # in the first chunk, which has gone out before the end is read

    status, answer_headers, body, whole = get(web.port, f"/artifacts/{artifact['id']}/download",
                                              headers)
    assert status == 200 and answer_headers["Content-Length"] == str(len(LARGE))
    assert not whole and len(body) < len(LARGE)  # the client sees a truncated transfer
    # A range is checked against the whole object too: cut short once bytes have gone out,
    # a clear error when the fault is found before the first byte (a range of one piece).
    status, _, body, whole = get(web.port, f"/artifacts/{artifact['id']}/download",
                                 {**headers, "Range": f"bytes=0-{2 * MIB - 1}"})
    assert status == 206 and not whole and len(body) < 2 * MIB
    status, _, body, whole = get(web.port, f"/artifacts/{artifact['id']}/download",
                                 {**headers, "Range": f"bytes=0-{MIB - 1}"})
    assert status == 502 and json.loads(body)["error"]["code"] == "artifact_corrupt"
    operator = caller("operator", actor="olga")
    assert len(events_of(operator, "service_artifact_corrupt")) == 3

    remove_object(artifact)  # a missing large object: a clear answer, not a cut stream
    status, _, body, whole = get(web.port, f"/artifacts/{artifact['id']}/download", headers)
    assert status == 502 and json.loads(body)["error"]["code"] == "artifact_missing"


def test_verify_and_the_scrub_report_every_missing_and_corrupt_object(
        app, app_factory, storage_url, own_database, env, publisher, caller, make_artifact):
    fine = [upload(make_artifact, os.urandom(1000 + i), f"fine-{i}.bin") for i in range(3)]
    gone = upload(make_artifact, b"gone" * 100, "gone.bin")
    rotten = upload(make_artifact, b"rot" * 100, "rotten.bin")
    remove_object(gone)
    flip_byte(rotten, 0)
    command = [str(Path(sys.executable).parent / "taskplane"), "artifacts", "verify"]

    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)

    assert done.returncode == 1, done.stderr
    found = json.loads(done.stdout)
    assert found["checked"] == 5
    assert [bad["artifacts"] for bad in found["missing"]] == [[gone["id"]]]
    assert [bad["artifacts"] for bad in found["corrupt"]] == [[rotten["id"]]]
    operator = caller("operator", actor="olga")
    assert [e["data"]["source"] for e in events_of(operator, "service_artifact_missing")] \
        == ["verify"]

    # The scrub: at most 2 objects a pass, each pass going on where the last one stopped.
    scrubbing = app_factory(storage_url=storage_url, database_url=own_database,
                            artifact_scrub_objects=2)
    with scrubbing.app_context():
        redis_client().delete(artifact_integrity.SCRUB_CURSOR)
        passes = [artifact_integrity.scrub() for _ in range(3)]
    assert [p["checked"] for p in passes] == [2, 2, 1]
    assert sum(len(p["missing"]) for p in passes) == 1
    assert sum(len(p["corrupt"]) for p in passes) == 1
    assert {e["data"]["source"] for e in events_of(operator, "service_artifact_corrupt")} \
        == {"verify", "scrub"}

    for artifact in (gone, rotten):
        publisher.delete(f"/artifacts/{artifact['id']}")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(fine)} objects checked" in done.stdout and "0 missing, 0 corrupt" in done.stdout


def test_the_scrub_is_on_beats_schedule(app):
    entry = app.extensions["taskplane"].celery.conf.beat_schedule["artifact-scrub"]
    assert entry["task"] == "taskplane.artifacts.scrub"
    assert entry["schedule"] == app.extensions["taskplane"].settings.artifact_scrub_interval_seconds


@pytest.mark.slow
def test_beat_runs_the_scrub_which_reports_a_rotten_object(env, private_broker, tmp_path, caller,
                                                           make_artifact):
    upload(make_artifact, b"fine" * 100, "fine.bin")
    rotten = upload(make_artifact, b"rot" * 100, "rotten.bin")
    flip_byte(rotten, 0)
    stack = dict(env, TASKPLANE_BROKER_URL=private_broker,
                 TASKPLANE_ARTIFACT_SCRUB_INTERVAL_SECONDS="1",
                 TASKPLANE_ARTIFACT_SCRUB_OBJECTS="1")
    worker = CeleryWorker("tasks", stack, tmp_path / "worker.log", prefix="scrub")
    beat = CeleryBeat("tasks", stack, tmp_path)
    operator = caller("operator", actor="olga")
    try:
        found = wait_until(lambda: [e for e in events_of(operator, "service_artifact_corrupt")
                                    if e["data"]["source"] == "scrub"], 120, interval=0.5,
                           message="the scrub's event")
    finally:
        beat.stop()
        worker.stop()
    assert {e["data"]["artifact_id"] for e in found} == {rotten["id"]}
