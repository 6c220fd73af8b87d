"""Slow transfers cannot stop the API: 300 uploads that announce 16 MiB and send nothing and
300 downloads of 16 MiB through a 4 KiB receive window, held open against one gunicorn
worker, leave `/livez` and submits answering; a transfer whose client stalls is ended.

Only 127.0.0.1 is used; every client socket is closed by the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import time

import pytest

from tests.conftest import Caller, worker_env
from tests.harness import Gunicorn, http_request, wait_until

MIB = 1024 * 1024
SIZE = 16 * MIB
CLIENTS = 300  # of each kind
SLOTS = 32  # TASKPLANE_TRANSFER_SLOTS' default


@pytest.fixture
def tenant_headers(tenant):
    """A publisher of this test's tenant, as request headers."""
    return {"X-Actor": "pat", "X-Roles": "publisher", "X-Tenant": tenant}


@pytest.fixture
def artifact_id(app_factory, private_broker, tenant):
    """A 16 MiB artifact of the test's tenant, in the session's store."""
    app = app_factory(broker_url=private_broker)
    publisher = Caller(app.test_client(), "pat", "publisher", tenant)
    created = publisher.post("/artifacts", json={"name": "big.bin", "type": "blob"}).get_json()
    answer = publisher.put(f"/artifacts/{created['id']}/content", data=os.urandom(SIZE),
                           content_type="application/octet-stream")
    assert answer.status_code == 200, answer.get_json()
    return created["id"]


@pytest.fixture
def start_web(settings, private_broker, tmp_path):
    """`start_web(**env)`: gunicorn with one worker (all slots in one process), on a broker
    no worker reads (so `/healthz`, which counts the open transfers, waits little for a
    worker's ping); stopped when the test ends, however it ends."""
    started = []

    def start(**env) -> Gunicorn:
        server = Gunicorn("app:create_app()", dict(worker_env(settings),
                                                    TASKPLANE_BROKER_URL=private_broker,
                                                    TASKPLANE_WORKER_PING_TIMEOUT="0.2", **env),
                          tmp_path / f"gunicorn-{len(started)}.log", workers=1)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def request_bytes(method: str, path: str, headers: dict) -> bytes:
    """The head of an HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def stalled_upload(port: int, artifact_id: str, headers: dict) -> socket.socket:
    """A client that announces a 16 MiB upload and sends nothing of it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request_bytes("PUT", f"/artifacts/{artifact_id}/content", {
        **headers, "Content-Type": "application/octet-stream", "Content-Length": str(SIZE)}))
    return sock


def slow_download(port: int, artifact_id: str, headers: dict) -> socket.socket:
    """A client that asks for the 16 MiB through a 4 KiB receive window and reads nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request_bytes("GET", f"/artifacts/{artifact_id}/download", headers))
    return sock


def status_seen(sock: socket.socket) -> int | None:
    """The status of the answer that has arrived on `sock` (peeked, nothing consumed); None yet."""
    if not select.select([sock], [], [], 0)[0]:
        return None
    head = sock.recv(12, socket.MSG_PEEK)
    return int(head[9:12]) if head.startswith(b"HTTP/1.1 ") and len(head) == 12 else None


def answer_head(sock: socket.socket) -> bytes:
    """What an answered client has received up to the end of the head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def transfers_open(port: int) -> int:
    """Transfers the web process serves now (`/healthz`)."""
    return json.loads(http_request(port, "GET", "/healthz", timeout=30)[1])["transfers"]["open"]


def livez_seconds(port: int) -> float:
    """How long one `/livez` takes (its timeout is 1 s)."""
    started = time.monotonic()
    assert http_request(port, "GET", "/livez", timeout=1)[0] == 200
    return time.monotonic() - started


@pytest.mark.slow
def test_300_stalled_uploads_and_300_slow_downloads_leave_the_api_answering(
        start_web, artifact_id, tenant_headers):
    web = start_web()
    uploads, downloads = [], []
    try:
        for _ in range(CLIENTS):
            uploads.append(stalled_upload(web.port, artifact_id, tenant_headers))
            downloads.append(slow_download(web.port, artifact_id, tenant_headers))

        # Every client is served at once: a slot, or 503 with Retry-After.
        def statuses():
            seen = [status_seen(sock) for sock in uploads + downloads]
            return seen if seen.count(503) == 2 * CLIENTS - SLOTS else None

        seen = wait_until(statuses, 60, interval=0.2, message="every refusal")
        up, down = seen[:CLIENTS], seen[CLIENTS:]
        assert up.count(None) + down.count(200) == SLOTS  # uploads wait for their body
        assert set(up) <= {None, 503} and set(down) <= {200, 503}
        refused = answer_head(uploads[up.index(503)])
        assert b"Retry-After: 5\r\n" in refused and b'"code":"unavailable"' in refused
        assert transfers_open(web.port) == SLOTS

        # While all of them hang: the probe answers in under a second, a submit with 202.
        assert max(livez_seconds(web.port) for _ in range(5)) < 1
        status, body = http_request(web.port, "POST", "/jobs", json.dumps(
            {"job_type": "echo", "payload": {"message": "m"}, "project": "p"}).encode(),
            {**tenant_headers, "Content-Type": "application/json"}, timeout=5)
        assert status == 202, body
    finally:
        for sock in uploads + downloads:
            sock.close()

    # When they go, every slot (and its thread) is free again.
    wait_until(lambda: transfers_open(web.port) == 0, 60, interval=0.5,
               message="every transfer slot to be free")
    assert livez_seconds(web.port) < 1
    status, body = http_request(web.port, "GET", f"/artifacts/{artifact_id}/download",
                                headers=tenant_headers, timeout=30)
    assert status == 200 and len(body) == SIZE


@pytest.mark.slow
def test_a_transfer_whose_client_stalls_is_ended_after_the_stall_time(
        start_web, artifact_id, tenant_headers):
    web = start_web(TASKPLANE_TRANSFER_STALL_SECONDS="4")
    clients = []
    try:
        uploads = [stalled_upload(web.port, artifact_id, tenant_headers) for _ in range(5)]
        downloads = [slow_download(web.port, artifact_id, tenant_headers) for _ in range(5)]
        clients = uploads + downloads
        wait_until(lambda: transfers_open(web.port) == 10, 30, interval=0.2,
                   message="ten transfers")
        started = time.monotonic()

        # The clients stay connected and send or read nothing: the server ends them.
        wait_until(lambda: transfers_open(web.port) == 0, 30, interval=0.2,
                   message="the stalled transfers to be ended")
        assert time.monotonic() - started >= 1  # not before the stall time (4 s, less polls)
        for sock in uploads:
            head = answer_head(sock)
            assert head.startswith(b"HTTP/1.1 408"), head[:200]
        for sock in downloads:  # cut short: the connection ends before the 16 MiB
            sock.settimeout(30)
            received = 0
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(1 << 20):
                    received += len(chunk)
            assert received < SIZE
    finally:
        for sock in clients:
            sock.close()
