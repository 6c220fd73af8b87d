"""gunicorn worker classes whose own refusals leave in Taskplane's JSON error envelope.

gunicorn answers some requests before the app runs (a request line or header over its
limits, a malformed request, a crash outside the app) with an HTML page of its own. The
mixin lets gunicorn decide, log and count the answer as usual and only rewrites the page
it writes: same status, `{"error": {"code", "message", "details", "request_id"}}` body.
One mixin serves every worker class: `SyncWorker` and `ThreadWorker` (gthread).
"""

from __future__ import annotations

import json
import uuid

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker
from gunicorn.workers.sync import SyncWorker as GunicornSyncWorker

from app.api import HTTP_ERROR_CODES


class _Captured:
    """A stand-in socket that keeps what gunicorn's error writer sends."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0  # `write_nonblock` then writes at once, without touching blocking mode

    def sendall(self, data: bytes) -> None:
        self.data += data


def envelope(raw: bytes, exc: BaseException) -> bytes:
    """The JSON envelope answer for gunicorn's own HTML error answer `raw`, same status."""
    status_line = raw.split(b"\r\n", 1)[0].decode("latin1")
    _, status, reason = (status_line.split(" ", 2) + [""])[:3]
    status_int = int(status)
    message = "internal error" if status_int >= 500 and status_int != 501 else (
        f"{reason}: {exc}" if str(exc) else reason)
    request_id = uuid.uuid4().hex  # the request was never read far enough to take one
    body = json.dumps({"error": {
        "code": HTTP_ERROR_CODES.get(status_int, "bad_request"), "message": message,
        "details": {}, "request_id": request_id}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-ID: {request_id}\r\n\r\n")
    return head.encode("latin1") + body


class EnvelopeErrors:
    """Worker mixin: gunicorn's own error answers in the JSON envelope instead of HTML."""

    def handle_error(self, req, client, addr, exc):
        """Let gunicorn log and answer `exc`, then send its answer as the JSON envelope."""
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        if not captured.data:
            return
        try:
            util.write_nonblock(client, envelope(captured.data, exc))
        except Exception:  # noqa: BLE001 - the client may be gone, as gunicorn allows
            self.log.debug("Failed to send error message.")


class SyncWorker(EnvelopeErrors, GunicornSyncWorker):
    """gunicorn's sync worker, its own errors in the envelope."""


class ThreadWorker(EnvelopeErrors, GunicornThreadWorker):
    """gunicorn's gthread worker, its own errors in the envelope."""
