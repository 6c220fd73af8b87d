"""What gunicorn refuses before the app runs is answered in the JSON error envelope."""

from __future__ import annotations

import json
import socket

import pytest

from app.web_workers import envelope
from tests.harness import http_request

HEADERS = {"X-Actor": "ann", "X-Roles": "viewer", "X-Tenant": "t-limits"}


def raw_exchange(port: int, request: bytes) -> tuple[int, dict, bytes]:
    """Send `request` bytes as they are; (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def assert_envelope(headers: dict, body: bytes, code: str) -> dict:
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code and error["message"]
    assert error["request_id"] == headers["X-Request-ID"]
    return error


def test_a_request_line_over_the_limit_is_400_in_the_envelope(web):
    path = "/jobs?cursor=" + "x" * 8200

    status, headers, body = raw_exchange(
        web.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

    assert status == 400
    error = assert_envelope(headers, body, "bad_request")
    assert "too large" in error["message"]


def test_a_cursor_over_the_old_4094_byte_line_reaches_the_app(web):
    status, body = http_request(web.port, "GET", "/jobs?cursor=" + "x" * 5000,
                                headers=HEADERS)

    assert status == 422  # the app's own answer: the cursor is over its 512 characters
    assert json.loads(body)["error"]["details"] == {"cursor": ["Longer than maximum length 512."]}


@pytest.mark.parametrize("extra", [
    "".join(f"X-Pad-{n}: 1\r\n" for n in range(101)),  # over 100 header fields
    "X-Pad: " + "y" * 8200 + "\r\n",  # one header over 8,190 bytes
])
def test_headers_over_the_limits_are_431_in_the_envelope(web, extra):
    status, headers, body = raw_exchange(
        web.port, f"GET /livez HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())

    assert status == 431
    assert_envelope(headers, body, "request_header_fields_too_large")


def test_a_malformed_request_is_400_in_the_envelope(web):
    status, headers, body = raw_exchange(web.port, b"GET /livez HTTP/9.9 x\r\n\r\n")

    assert status == 400
    assert_envelope(headers, body, "bad_request")


def test_a_server_error_outside_the_app_never_shows_what_failed():
    html = (b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
            b"Content-Type: text/html\r\n\r\n<html></html>")

    answer = envelope(html, RuntimeError("secret detail"))

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert json.loads(body)["error"]["message"] == "internal error"
    assert b"secret" not in answer
