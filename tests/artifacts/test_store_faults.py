"""Faults of the local object store: a full disk answers 507, probes see it, no temp file leaks."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from app.services import artifact_retention, artifacts
from tests.conftest import Caller, settled_readiness, worker_env
from tests.harness import Gunicorn, http_request, wait_until

MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs mounted for this test (skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def temp_files(root) -> list:
    """The upload temp files of the local store at `root`."""
    return sorted((root / "tmp").iterdir())


def upload_chunked(port: int, path: str, headers: dict, chunks) -> tuple[int, dict]:
    """PUT `chunks` with chunked transfer encoding (no size announced); (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("PUT", path, body=chunks, encode_chunked=True,
                     headers={**headers, "Content-Type": "application/x-raw"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def new_artifact(port: int, headers: dict) -> str:
    """Create an artifact without content through the API; its id."""
    status, body = http_request(port, "POST", "/artifacts",
                                json.dumps({"name": "big.bin", "type": "t"}).encode(),
                                {**headers, "Content-Type": "application/json"})
    assert status == 201, body
    return json.loads(body)["id"]


def test_a_full_disk_answers_507_and_the_probes_see_it(settings, tmp_path, small_disk, tenant):
    env = dict(worker_env(settings), TASKPLANE_STORAGE_URL=f"file://{small_disk}",
               TASKPLANE_STORAGE_MIN_FREE_BYTES="0")
    server = Gunicorn("app:create_app()", env, tmp_path / "gunicorn.log", workers=1)
    headers = {"X-Actor": "pat", "X-Roles": "publisher", "X-Tenant": tenant}
    try:
        artifact_id = new_artifact(server.port, headers)

        # A little over the disk, so the whole body is sent before the answer comes.
        status, body = upload_chunked(server.port, f"/artifacts/{artifact_id}/content",
                                      headers, (b"x" * (MIB // 4) for _ in range(18)))

        assert status == 507, body
        assert body["error"]["code"] == "insufficient_storage"
        assert temp_files(small_disk) == []  # the partial upload is gone with its answer
        status, body = http_request(server.port, "GET", f"/artifacts/{artifact_id}",
                                    headers=headers)
        assert json.loads(body)["has_content"] is False
        (small_disk / "filler").write_bytes(b"f" * (shutil.disk_usage(small_disk).free))
        assert shutil.disk_usage(small_disk).free == 0
        def store_down():  # the next background round sees it
            status, body = http_request(server.port, "GET", "/readyz")
            report = json.loads(body)
            return (status, report) if report["checks"].get("object_store", {}).get(
                "status") == "down" else None

        status, _ = wait_until(store_down, 30, message="/readyz to see the full store")
        assert status == 503
        status, body = http_request(server.port, "GET", "/healthz")
        assert json.loads(body)["checks"]["object_store"]["status"] == "down"
    finally:
        server.stop()


def test_a_store_under_its_reserve_is_down_and_refuses_uploads(app_factory, tmp_path, tenant,
                                                             expect_error):
    folder = tmp_path / "objects"
    reserve = shutil.disk_usage(tmp_path).free + 1024**3  # more than the disk has free
    app = app_factory(storage_url=f"file://{folder}", storage_min_free_bytes=reserve)
    client = app.test_client()

    check = client.get("/healthz").get_json()["checks"]["object_store"]
    assert check["status"] == "down" and "reserve" in check["detail"]
    assert settled_readiness(client).status_code == 503
    publisher = Caller(client, "pat", "publisher", tenant)
    error = expect_error(publisher.post("/artifacts", json={"name": "a", "type": "t",
                                                            "content": "aGk="}),
                         507, "insufficient_storage")
    assert error["message"] == "the object store is full"
    assert publisher.get("/artifacts").get_json()["items"] == []


def test_an_upload_killed_with_its_web_process_leaves_no_temp_file(settings, tmp_path, tenant,
                                                                   app_factory):
    folder = tmp_path / "objects"
    env = dict(worker_env(settings), TASKPLANE_STORAGE_URL=f"file://{folder}",
               TASKPLANE_STORAGE_TEMP_MAX_AGE_SECONDS="1")
    server = Gunicorn("app:create_app()", env, tmp_path / "gunicorn.log", workers=1)
    headers = {"X-Actor": "pat", "X-Roles": "publisher", "X-Tenant": tenant}
    artifact_id = new_artifact(server.port, headers)
    written = threading.Event()

    def endless():
        for _ in range(4096):
            yield b"z" * MIB
            if temp_files(folder) and os.path.getsize(temp_files(folder)[0]) >= 2 * MIB:
                written.set()

    uploader = threading.Thread(target=lambda: pytest.raises(
        OSError, upload_chunked, server.port, f"/artifacts/{artifact_id}/content", headers,
        endless()), daemon=True)
    uploader.start()
    assert written.wait(60), "the upload never reached the store"
    os.killpg(server.proc.pid, signal.SIGKILL)  # master and worker, mid-upload
    server.proc.wait()
    server.stop()
    uploader.join(30)
    [left] = temp_files(folder)
    assert left.stat().st_size >= 2 * MIB
    wait_until(lambda: time.time() - left.stat().st_mtime > 1, 10, message="the temp file to age")

    restarted = Gunicorn("app:create_app()", env, tmp_path / "gunicorn-2.log", workers=1)
    try:
        assert temp_files(folder) == []  # swept as the new process started
    finally:
        restarted.stop()
    (folder / "tmp" / "tmpleftover").write_bytes(b"x")
    os.utime(folder / "tmp" / "tmpleftover", (time.time() - 5, time.time() - 5))
    (folder / "tmp" / "tmpfresh").write_bytes(b"y")
    app_factory(storage_url=f"file://{folder}", storage_temp_max_age_seconds=2)
    assert temp_files(folder) == [folder / "tmp" / "tmpfresh"]  # an upload in progress stays
    os.utime(folder / "tmp" / "tmpfresh", (time.time() - 5, time.time() - 5))
    assert artifact_retention.sweep()["temp_files"] == 1  # and the periodic pass
    assert temp_files(folder) == []
    assert artifacts.store().root == folder.resolve()
