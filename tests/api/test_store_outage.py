"""A database that refuses connections: every request answers 503 in the envelope, not 500."""

from __future__ import annotations

import socket

import pytest

from app.extensions import db, runtime


def closed_postgres_url() -> str:
    """A PostgreSQL URL on a local port nothing listens on: every connect is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/taskplane"


@pytest.fixture
def database_down(app):
    """The app's database handle bound to a server that is not there, for this test."""
    db.configure(closed_postgres_url())
    yield
    db.configure(runtime.settings.database_url)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("get", "/jobs", None),
    ("post", "/jobs", {"job_type": "echo", "payload": {"message": "x"}, "project": "p"}),
    ("get", "/jobs/00000000-0000-0000-0000-000000000000", None),
    ("get", "/events", None),
], ids=["list", "submit", "read", "events"])
def test_database_outage_answers_503_with_retry_after(caller, expect_error, database_down,
                                                      method, path, body):
    operator = caller("operator")

    response = getattr(operator, method)(path, json=body)

    error = expect_error(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "unavailable" in error["message"]
