"""`/readyz` answers at once from checks kept fresh in the background, with their ages.

Kubernetes gives a readiness probe 1 s by default: the probe must never wait out a
worker ping or a broker that does not answer. Probes are not the API's slow requests.
"""

from __future__ import annotations

import json
import statistics
import time

import pytest

from tests.conftest import Caller, settled_readiness, worker_env
from tests.harness import (
    CeleryWorker,
    Gunicorn,
    RabbitServer,
    RedisServer,
    http_request,
    wait_until,
)

PROBE_TIMEOUT = 1.0  # Kubernetes' default timeoutSeconds
AT_ONCE = 0.1


@pytest.fixture
def own_broker(broker_url, tmp_path):
    """A broker of this test alone, of the session's kind: the fault is killing it.

    A redis-server, or in the RabbitMQ pass a RabbitMQ node.
    """
    folder = tmp_path / "broker"
    folder.mkdir()
    server = RedisServer(folder) if broker_url.startswith("redis") else RabbitServer(folder)
    yield server
    server.stop()


def _probe(port: int) -> tuple[float, int, dict]:
    """GET /readyz: (seconds it took, status, report)."""
    started = time.perf_counter()
    status, body = http_request(port, "GET", "/readyz", timeout=10)
    return time.perf_counter() - started, status, json.loads(body)


def _assert_at_once(port: int) -> list[tuple[float, int, dict]]:
    probes = [_probe(port) for _ in range(20)]
    took = [seconds for seconds, _, _ in probes]
    assert max(took) < PROBE_TIMEOUT, took
    assert statistics.median(took) < AT_ONCE, took
    return probes


@pytest.mark.e2e  # the RabbitMQ pass kills a RabbitMQ node
def test_readyz_answers_at_once_and_sees_the_broker_die(settings, own_broker, tmp_path):
    # The production ping timeout (1 s): what every probe waited out before.
    env = dict(worker_env(dict(settings, broker_url=own_broker.url())),
               TASKPLANE_WORKER_PING_TIMEOUT="1", TASKPLANE_READINESS_INTERVAL_SECONDS="0.5")
    worker = CeleryWorker("tasks", env, tmp_path / "worker.log", prefix="ready")
    web = Gunicorn("app:create_app()", env, tmp_path / "web.log", workers=1)
    try:
        wait_until(lambda: _probe(web.port)[1] == 200, 60, message="/readyz 200")
        for _, status, report in _assert_at_once(web.port):
            assert status == 200, report
            assert set(report["checks"]) == {"database", "broker", "workers", "object_store"}
            for check in report["checks"].values():
                assert 0 <= check["age_seconds"] < 15 and check["checked_at"]

        own_broker.kill()
        wait_until(lambda: _probe(web.port)[1] == 503, 30, message="/readyz 503")
        for _, status, report in _assert_at_once(web.port):
            assert status == 503
            assert report["checks"]["broker"]["status"] == "down"
            assert any(reason.startswith("broker:") for reason in report["reasons"])
    finally:
        web.stop()
        worker.kill()


def test_checks_older_than_the_limit_make_the_app_not_ready(app_factory, worker):
    app = app_factory(readiness_interval_seconds=3600.0, readiness_max_age_seconds=0.5)
    # One round, then none for an hour: its checks pass, but soon they are too old to trust.
    response = settled_readiness(app.test_client(), lambda body: len(body["reasons"]) == 4)

    assert response.status_code == 503
    body = response.get_json()
    assert {check["status"] for check in body["checks"].values()} == {"ok"}
    assert all(check["age_seconds"] > 0.5 for check in body["checks"].values())
    assert sorted(reason.split(":")[0] for reason in body["reasons"]) == sorted(body["checks"])
    assert all("last checked" in reason for reason in body["reasons"])


def test_probes_are_not_slow_requests_of_the_api(app_factory, tenant):
    app = app_factory(slow_request_ms=0.0)  # every request is slow
    client = app.test_client()
    operator = Caller(client, "olga", "operator", tenant)
    for path in ("/livez", "/healthz", "/readyz", "/metrics"):
        client.get(path)
    assert operator.get("/job-types").status_code == 200

    kept = operator.get("/ops/slow-requests").get_json()["items"]

    assert [entry["route"] for entry in kept] == ["/job-types"]
