"""Probes and API documentation: `/livez`, `/healthz`, `/readyz`, `/openapi.json`, `/docs`.

None of them needs the identity headers; each test calls them with none.
"""

from __future__ import annotations

import socket

import pytest

from tests.conftest import settled_readiness

CHECKS = {"database", "broker", "object_store", "workers"}


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def anonymous(app):
    """A client that sends no identity headers."""
    return app.test_client()


@pytest.fixture
def broker_down_app(app_factory):
    """An app whose broker URL names a closed port; the normal configuration comes back after.

    Building an app reconfigures the process-wide Celery app, so the finalizer builds a
    normal one again before any other test publishes or pings.
    """
    yield app_factory(broker_url=f"redis://127.0.0.1:{closed_port()}/0")
    app_factory()


def test_livez_answers_200(anonymous):
    response = anonymous.get("/livez")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_reports_every_dependency_and_queue_depth(worker, anonymous):
    response = anonymous.get("/healthz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0
    assert "online" in body["checks"]["workers"]["detail"]
    assert isinstance(body["queue_depth"]["default"], int)
    assert body["queue_depth"]["default"] >= 0


def test_readyz_answers_200_with_a_worker_online(worker, anonymous):
    response = settled_readiness(anonymous)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["ready"], body["reasons"]) == (True, [])
    assert "default" in body["queue_depth"]


def test_readyz_answers_503_with_reasons_when_the_broker_is_down(broker_down_app):
    response = settled_readiness(broker_down_app.test_client())

    assert response.status_code == 503
    body = response.get_json()
    assert body["ready"] is False
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["workers"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert [reason.split(":")[0] for reason in body["reasons"]] == ["broker", "workers"]
    assert response.headers["X-Request-ID"]


def test_healthz_stays_200_and_says_degraded_when_the_broker_is_down(broker_down_app):
    response = broker_down_app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "degraded"
    assert response.get_json()["checks"]["broker"]["status"] == "down"


def test_openapi_json_lists_the_paths(anonymous):
    response = anonymous.get("/openapi.json")

    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/cancel", "/jobs/{job_id}/retry",
            "/jobs/{job_id}/result", "/jobs/{job_id}/logs", "/jobs/{job_id}/events",
            "/job-types", "/events", "/livez", "/healthz", "/readyz"} <= set(spec["paths"])
    assert set(spec["paths"]["/jobs"]) >= {"get", "post"}
    assert "ErrorEnvelope" in spec["components"]["schemas"]


def test_docs_serve_swagger_ui(anonymous):
    response = anonymous.get("/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "swagger" in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/openapi.json", "/docs"])
def test_probes_carry_a_request_id(anonymous, path):
    response = anonymous.get(path, headers={"X-Request-ID": "probe-1"})

    assert response.headers["X-Request-ID"] == "probe-1"
