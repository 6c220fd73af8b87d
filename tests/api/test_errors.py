"""One error envelope for every error, and `X-Request-ID` on every response."""

from __future__ import annotations

import re
import uuid

import pytest

from app.auth import Permission, requires

ECHO = {"job_type": "echo", "payload": {"message": "m"}, "project": "p"}


def unauthenticated(_app, anonymous, _viewer):
    return anonymous.get("/jobs")


def forbidden(_app, _anonymous, viewer):
    return viewer.get("/events")


def missing_job(_app, _anonymous, viewer):
    return viewer.get(f"/jobs/{uuid.uuid4()}")


def unknown_url(_app, anonymous, _viewer):
    return anonymous.get("/no/such/thing")


def wrong_method(_app, _anonymous, viewer):
    return viewer.patch("/jobs", json={})


def conflict(_app, _anonymous, viewer):
    job_id = viewer.post("/jobs", json=ECHO).get_json()["id"]
    return viewer.post(f"/jobs/{job_id}/retry")  # queued, running or completed: never retryable


def too_large(app, _anonymous, viewer):
    return viewer.post("/jobs", data="x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
                       content_type="application/json")


def invalid_body(_app, _anonymous, viewer):
    return viewer.post("/jobs", json=dict(ECHO, priority=99))


def invalid_query(_app, _anonymous, viewer):
    return viewer.get("/jobs", query_string={"limit": 0})


def malformed_json(_app, _anonymous, viewer):
    return viewer.post("/jobs", data="{", content_type="application/json")


ERRORS = {
    "401": (unauthenticated, 401, "unauthenticated"),
    "403": (forbidden, 403, "forbidden"),
    "404 job": (missing_job, 404, "not_found"),
    "404 url": (unknown_url, 404, "not_found"),
    "405": (wrong_method, 405, "method_not_allowed"),
    "409": (conflict, 409, "conflict"),
    "413": (too_large, 413, "payload_too_large"),
    "422 body": (invalid_body, 422, "validation_failed"),
    "422 query": (invalid_query, 422, "validation_failed"),
    "400": (malformed_json, 400, "bad_request"),
}


@pytest.fixture
def provoke(app, caller):
    """`provoke(kind, headers)`: make the request that answers the given kind of error."""

    def call(kind: str, headers: dict | None = None):
        viewer, anonymous = caller("viewer"), caller()
        anonymous.headers = {}  # no identity at all
        for who in (viewer, anonymous):
            who.headers.update(headers or {})
        return ERRORS[kind][0](app, anonymous, viewer)

    return call


@pytest.mark.parametrize("kind", ERRORS)
def test_every_error_uses_the_envelope(provoke, expect_error, kind):
    _, status, code = ERRORS[kind]

    expect_error(provoke(kind), status, code)


@pytest.mark.parametrize("kind", ERRORS)
def test_sent_request_id_is_echoed_in_header_and_envelope(provoke, kind):
    sent = f"req-{kind.replace(' ', '-')}"

    response = provoke(kind, headers={"X-Request-ID": sent})

    assert response.headers["X-Request-ID"] == sent
    assert response.get_json()["error"]["request_id"] == sent


def test_request_id_is_generated_when_none_is_sent(caller):
    viewer = caller()

    first, second = viewer.get("/jobs"), viewer.get("/jobs")

    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert ids[0] != ids[1]


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "<script>"])
def test_malformed_request_id_is_refused_under_an_id_of_its_own(caller, expect_error, bad):
    response = caller().get(f"/jobs/{uuid.uuid4()}", headers={"X-Request-ID": bad})

    error = expect_error(response, 400, "invalid_identity")
    assert error["details"]["header"] == "X-Request-ID"
    assert re.fullmatch(r"[0-9a-f]{32}", error["request_id"])


def test_success_responses_echo_the_request_id(caller):
    response = caller().post("/jobs", json=ECHO, headers={"X-Request-ID": "submit-1"})

    assert response.status_code == 202
    assert response.headers["X-Request-ID"] == "submit-1"


def test_unknown_url_is_404_even_without_credentials(app, expect_error):
    expect_error(app.test_client().get("/jobs/x/y/z"), 404, "not_found")


@pytest.mark.parametrize("method, path, allowed", [
    ("put", "/jobs", {"GET", "POST"}),
    ("patch", "/jobs/some-id", {"GET", "DELETE"}),
    ("get", "/jobs/some-id/cancel", {"POST"}),
    ("post", "/job-types", {"GET"}),
])
def test_wrong_method_is_405_with_allow_header(caller, expect_error, method, path, allowed):
    response = getattr(caller(), method)(path)

    expect_error(response, 405, "method_not_allowed")
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_server_errors_do_not_leak_internals(app, caller, expect_error):
    @app.get("/boom")
    @requires(Permission.READ)
    def boom():
        raise RuntimeError("secret connection string")

    response = caller().get("/boom")

    error = expect_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert error["message"] == "internal error"
