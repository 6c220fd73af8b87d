"""Uploads and downloads hold a transfer slot, and end when their client stalls.

An upload or a download holds a thread of the web process for as long as its client takes.
Each takes one of the process's transfer slots (`app.services.slots`; past them 503
`unavailable` with `Retry-After`, before any of the body is read), so the threads beyond
the slots always remain for every other request. Under gunicorn the connection's socket
gets a timeout of `TASKPLANE_TRANSFER_STALL_SECONDS` for the transfer: a read that gets no
byte for that long ends an upload (408 `request_timeout`), a write the client takes nothing
of for that long cuts a download; either way the slot and the thread are free again. An
upload that ends before its body does (refused, stalled) reads no more of that connection,
which closes once the answer is out.
"""

from __future__ import annotations

import contextlib
import socket

from flask import Response
from werkzeug.exceptions import RequestTimeout
from werkzeug.wsgi import ClosingIterator

from app.extensions import runtime
from app.services import slots


def _socket(environ) -> socket.socket | None:
    sock = environ.get("gunicorn.socket")
    return sock if isinstance(sock, socket.socket) else None


def _limit_stalls(environ) -> None:
    """A read or write of this connection that makes no progress for the stall time fails."""
    sock = _socket(environ)
    if sock is not None:
        sock.settimeout(runtime.settings.transfer_stall_seconds)


def _stop_reading(environ) -> None:
    """Read no more of this connection: what is left of the body will not be waited for."""
    sock = _socket(environ)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)


@contextlib.contextmanager
def upload(environ):
    """Hold a transfer slot while the block reads the body (and stores it)."""
    try:
        release = slots.transfers().acquire()
    except Exception:
        _stop_reading(environ)
        raise
    _limit_stalls(environ)
    try:
        yield
    except RequestTimeout:
        _stop_reading(environ)
        raise
    finally:
        release()


def download(environ, answer) -> Response:
    """`answer(hold)`, a streamed response whose body it passes through `hold(body)`, which
    keeps a transfer slot until the body is closed."""
    release = slots.transfers().acquire()
    try:
        response = answer(lambda body: _holding(body, release))
    except BaseException:
        release()
        raise
    _limit_stalls(environ)
    return response


def _holding(body, release):
    """`body` (a file or an iterator of chunks) that calls `release` when it is closed.

    The body is what the server closes: a response sent with `direct_passthrough` hands
    it to the server as it is, and never runs the response's own close callbacks.
    """
    if hasattr(body, "fileno"):
        return _HoldingFile(body, release)
    return ClosingIterator(body, [release])


class _HoldingFile:
    """A file object that calls `release` when closed (the server may still sendfile() it)."""

    def __init__(self, handle, release):
        self._handle = handle
        self._release = release

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def close(self) -> None:
        """Close the file and free its transfer slot."""
        try:
            self._handle.close()
        finally:
            self._release()
