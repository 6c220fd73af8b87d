"""Reading a raw request body in large blocks, for streamed artifact uploads.

Any WSGI server works through `request.stream`. Under gunicorn that path costs a lot
of Python per byte: its body reader takes 8 KiB per `recv` and hands them on 1 KiB at a
time, which caps an upload near 400 MiB/s whatever the application does. gunicorn also
puts the connection's socket in the environ (`gunicorn.socket`), so for a body with a
`Content-Length` the rest of it is read from that socket with `recv_into` straight into
1 MiB buffers, after the bytes gunicorn already buffered. The fast path relies on the
layout of gunicorn's body classes (`Body.buf`, `LengthReader.length`, `SocketUnreader`);
`fast_body` checks every piece of it and answers None (the plain path) on anything else,
and the tests assert the fast path is taken under the gunicorn installed, so an upgrade
that changes that layout shows as a failing test rather than a silent slowdown.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

from werkzeug.exceptions import ClientDisconnected, RequestTimeout

from app.storage import CHUNK

STREAM_CHUNK = 64 * 1024  # the plain path: gunicorn hands out 1 KiB at a time anyway


def request_chunks(request) -> Iterator[bytes]:
    """The raw body of Flask's `request`, in chunks as it arrives (fast under gunicorn).

    A read that times out (the socket's timeout: a stalled client) is a 408.
    """
    stream = request.stream  # werkzeug's checks (413 over max_content_length) happen here
    body = fast_body(request.environ)
    return _stall_ends(body if body is not None else stream_chunks(stream))


def _stall_ends(chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    except TimeoutError as exc:
        raise RequestTimeout("no bytes of the body came in time; the upload is ended") from exc


def stream_chunks(stream) -> Iterator[bytes]:
    """`stream` read in chunks until it ends (any WSGI server)."""
    while chunk := stream.read(STREAM_CHUNK):
        yield chunk


def fast_body(environ: dict) -> Iterator[bytes] | None:
    """The body read from gunicorn's socket in 1 MiB blocks; None when that is not safe."""
    try:
        from gunicorn.http.body import Body, LengthReader
        from gunicorn.http.unreader import SocketUnreader
    except ImportError:
        return None
    body, sock = environ.get("wsgi.input"), environ.get("gunicorn.socket")
    if type(body) is not Body or not isinstance(sock, socket.socket):
        return None
    reader = getattr(body, "reader", None)
    if type(reader) is not LengthReader or not isinstance(reader.length, int):
        return None  # chunked or unbounded bodies stay with gunicorn's own reader
    unreader = getattr(reader, "unreader", None)
    if (type(unreader) is not SocketUnreader or getattr(unreader, "sock", None) is not sock
            or not isinstance(getattr(unreader, "buf", None), io.BytesIO)
            or not isinstance(getattr(body, "buf", None), io.BytesIO)):
        return None
    return _socket_chunks(body, reader, unreader, sock)


def _socket_chunks(body, reader, unreader, sock: socket.socket) -> Iterator[bytes]:
    """What gunicorn buffered, then exactly the `reader.length` bytes left, from `sock`."""
    taken, body.buf = body.buf.getvalue(), io.BytesIO()  # already counted by the reader
    if taken:
        yield taken
    pending, unreader.buf = unreader.buf.getvalue(), io.BytesIO()
    unreader.unread(pending[reader.length:])  # bytes past this body (a pipelined request)
    pending = pending[:reader.length]
    reader.length -= len(pending)
    if pending:
        yield pending
    while reader.length > 0:
        chunk = bytearray(min(reader.length, CHUNK))  # fresh: the hashing thread keeps it
        view, filled = memoryview(chunk), 0
        while filled < len(chunk):
            received = sock.recv_into(view[filled:])
            if not received:
                reader.length = 0
                raise ClientDisconnected()
            filled += received
        reader.length -= filled
        yield chunk
