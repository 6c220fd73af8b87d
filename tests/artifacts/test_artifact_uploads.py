"""Raw uploads read from gunicorn's socket in large blocks, and the plain path otherwise.

The unit tests drive gunicorn's own request parser over a socket pair, so they hold
against the gunicorn installed: if an upgrade changes the body classes the fast path
relies on, `test_gunicorn_length_bodies_take_the_fast_path` fails instead of uploads
silently slowing down. The last tests upload through a real gunicorn.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import threading

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser
from werkzeug.exceptions import ClientDisconnected

from app.api.artifacts.uploads import CHUNK, fast_body
from tests.conftest import worker_env
from tests.harness import Gunicorn, http_request

ADDRESS = ("127.0.0.1", 50000)


@pytest.fixture
def pair():
    """(client, server) ends of a connected socket pair."""
    client, server = socket.socketpair()
    yield client, server
    client.close()
    server.close()


def parsed(server: socket.socket):
    """The next request gunicorn parses from `server`: (parser, its WSGI environ)."""
    cfg = Config()
    parser = RequestParser(cfg, server, ADDRESS)
    request = next(parser)
    _response, environ = wsgi.create(request, server, ADDRESS, ("127.0.0.1", 80), cfg)
    return parser, environ


def head(length: int | None) -> bytes:
    """A PUT request head with a Content-Length, or chunked when `length` is None."""
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return f"PUT /x HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n".encode()


def test_gunicorn_length_bodies_take_the_fast_path(pair):
    client, server = pair
    data = os.urandom(2 * CHUNK + 1234)
    nxt = b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n"
    client.sendall(head(len(data)) + data[:5000])  # some body arrives with the head
    parser, environ = parsed(server)
    environ["wsgi.input"].read(100)  # a first read through gunicorn's own reader

    body = fast_body(environ)

    assert body is not None, "gunicorn's body classes changed: the fast upload path is off"
    received = [data[:100]]
    sender = threading.Thread(target=client.sendall, args=(data[5000:] + nxt,))
    sender.start()  # the rest, then a pipelined request
    received += [bytes(chunk) for chunk in body]
    sender.join()
    assert b"".join(received) == data
    assert max(len(chunk) for chunk in received) == CHUNK
    assert next(parser).path == "/next"  # the bytes past the body were left to gunicorn


def test_chunked_bodies_keep_gunicorns_reader(pair):
    client, server = pair
    client.sendall(head(None) + b"5\r\nhello\r\n0\r\n\r\n")
    _parser, environ = parsed(server)

    assert fast_body(environ) is None
    assert environ["wsgi.input"].read() == b"hello"


def test_a_client_gone_mid_body_is_a_disconnect(pair):
    client, server = pair
    client.sendall(head(3 * CHUNK) + b"x" * 10)
    _parser, environ = parsed(server)
    body = fast_body(environ)
    sender = threading.Thread(target=lambda: (client.sendall(b"y" * CHUNK), client.close()))
    sender.start()

    with pytest.raises(ClientDisconnected):
        list(body)
    sender.join()


def test_other_servers_get_the_plain_path():
    assert fast_body({"wsgi.input": open(os.devnull, "rb")}) is None


@pytest.fixture
def server(settings, tmp_path):
    """Taskplane under gunicorn (one sync worker) with a local store."""
    env = dict(worker_env(settings), TASKPLANE_STORAGE_URL=f"file://{tmp_path / 'objects'}")
    server = Gunicorn("app:create_app()", env, tmp_path / "gunicorn.log", workers=1)
    yield server
    server.stop()


def test_uploads_through_gunicorn_store_every_byte(server, tenant):
    headers = {"X-Actor": "pat", "X-Roles": "publisher", "X-Tenant": tenant}
    status, body = http_request(server.port, "POST", "/artifacts",
                                json.dumps({"name": "a.bin", "type": "t"}).encode(),
                                {**headers, "Content-Type": "application/json"})
    assert status == 201, body
    path = f"/artifacts/{json.loads(body)['id']}/content"
    sized, chunked = os.urandom(3 * CHUNK + 7), os.urandom(CHUNK + 3)

    status, body = http_request(server.port, "PUT", path, sized,
                                {**headers, "Content-Type": "application/x-raw"}, timeout=60)
    assert status == 200, body
    assert json.loads(body)["digest"] == "sha256:" + hashlib.sha256(sized).hexdigest()
    assert json.loads(body)["size"] == len(sized)

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("PUT", path, body=iter([chunked[:1000], chunked[1000:]]),
                 headers={**headers, "Content-Type": "application/x-raw"}, encode_chunked=True)
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    assert answer.status == 200, body
    assert json.loads(body)["digest"] == "sha256:" + hashlib.sha256(chunked).hexdigest()
    status, body = http_request(server.port, "GET", path.replace("/content", "/download"),
                                headers=headers, timeout=60)
    assert status == 200 and body == chunked
