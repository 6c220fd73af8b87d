"""The object store is one of the dependencies `/healthz` and `/readyz` report."""

from __future__ import annotations

from tests.conftest import settled_readiness
from tests.harness import free_port


def test_healthz_reports_the_store(app, storage_url):
    body = app.test_client().get("/healthz").get_json()
    check = body["checks"]["object_store"]
    assert check["status"] == "ok"
    assert check["detail"].startswith("folder" if storage_url.startswith("file") else "bucket")


def test_readyz_is_503_when_the_store_is_unreachable(app_factory, s3_endpoint):
    down = app_factory(storage_url=f"s3://nowhere/p?endpoint_url=http://127.0.0.1:{free_port()}")
    response = settled_readiness(down.test_client())
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["object_store"]["status"] == "down"
    assert any(reason.startswith("object_store:") for reason in body["reasons"])
