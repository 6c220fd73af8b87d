"""Structured log lines, the text format, and slow requests in /healthz and /readyz."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest

from app.logs import JsonFormatter, TextFormatter, bind, unbind
from config.settings import Settings
from tests.conftest import settled_readiness


def _format(formatter, message, **extra) -> str:
    record = logging.LogRecord("taskplane.test", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return formatter.format(record)


def test_json_line_merges_context_extras_and_a_json_message():
    token = bind(request_id="r-1", tenant="acme")
    try:
        line = json.loads(_format(JsonFormatter(), json.dumps({"event": "service_x", "n": 2}),
                                  route="/jobs"))
    finally:
        unbind(token)
    assert line["message"] == "service_x" and line["n"] == 2  # an object, not a string
    assert (line["request_id"], line["tenant"], line["route"]) == ("r-1", "acme", "/jobs")
    assert (line["level"], line["logger"]) == ("INFO", "taskplane.test") and "time" in line


def test_text_line_is_for_people():
    text = _format(TextFormatter(), "hello", route="/jobs", status=200)
    assert "INFO" in text and "taskplane.test: hello" in text and "route=/jobs" in text
    assert not text.startswith("{")


@pytest.mark.parametrize("env, message", [
    ({"TASKPLANE_LOG_FORMAT": "xml"}, "TASKPLANE_LOG_FORMAT"),
    ({"TASKPLANE_METRICS_ALLOW": "not-a-network"}, "TASKPLANE_METRICS_ALLOW"),
])
def test_bad_settings_are_refused_at_start(env, message):
    with pytest.raises(RuntimeError, match=message):
        Settings.from_env(env).check()


def test_every_request_is_logged_once_with_its_fields(app_factory, capfd):
    app = app_factory(log_format="json")
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    response = app.test_client().get("/jobs", headers={
        "X-Actor": "bob", "X-Roles": "viewer", "X-Tenant": tenant, "X-Request-ID": "req-42",
        "X-Reason": "ticket 7"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()
             if line.startswith("{") and '"taskplane.http"' in line]
    mine = [line for line in lines if line.get("request_id") == "req-42"]
    assert len(mine) == 1
    assert {k: mine[0][k] for k in ("level", "actor", "tenant", "reason", "route", "status")} == {
        "level": "INFO", "actor": "bob", "tenant": tenant, "reason": "ticket 7",
        "route": "/jobs", "status": 200}


def test_readyz_fails_past_the_slow_request_threshold(app_factory, worker):
    app = app_factory(slow_request_ms=0.0, slow_requests_ready_max=2)
    client = app.test_client()
    for _ in range(3):
        client.get("/job-types", headers={"X-Actor": "a", "X-Roles": "viewer", "X-Tenant": "t"})
    response = settled_readiness(client, lambda body: body["slow_requests"]["last_5_minutes"])
    assert response.status_code == 503
    body = response.get_json()
    assert body["slow_requests"]["last_5_minutes"] >= 3
    assert any(reason.startswith("slow_requests:") for reason in body["reasons"])


def test_slow_requests_are_bounded_and_listed_per_tenant(app_factory):
    app = app_factory(slow_request_ms=0.0, slow_requests_kept=3)
    client = app.test_client()
    mine, other = (f"t-{uuid.uuid4().hex[:8]}" for _ in range(2))

    def as_(tenant):
        return {"X-Actor": "ops", "X-Roles": "operator", "X-Tenant": tenant}

    client.get("/jobs", headers=as_(other))
    for _ in range(2):
        client.get("/jobs", headers=as_(mine))
    listed = client.get("/ops/slow-requests", headers=as_(mine)).get_json()["items"]
    assert [(r["tenant"], r["route"]) for r in listed] == [(mine, "/jobs")] * 2
    with app.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import SlowRequest

        assert db.session.scalar(select(func.count()).select_from(SlowRequest)) <= 3
    viewer = {**as_(mine), "X-Roles": "viewer"}
    assert client.get("/ops/slow-requests", headers=viewer).status_code == 403


def test_structured_formatter_writes_one_line_per_record():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("taskplane.test.oneline")
    logger.addHandler(handler)
    try:
        logger.warning("multi\nline")
    finally:
        logger.removeHandler(handler)
    assert len(stream.getvalue().splitlines()) == 1


@pytest.mark.parametrize("env, on", [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"},
     False),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, False),
])
def test_tracing_is_on_only_when_otel_variables_name_an_exporter(env, on):
    from app import tracing

    assert tracing.enabled(env) is on


@pytest.mark.parametrize("env", [{"OTEL_TRACES_EXPORTER": "jaeger"},
                                 {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
                                  "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}])
def test_an_exporter_taskplane_cannot_use_is_refused(env):
    from app import tracing

    with pytest.raises(RuntimeError, match="OTEL_"):
        tracing.enabled(env)


def test_unusual_methods_and_unknown_paths_share_bounded_labels(app_factory):
    from prometheus_client import REGISTRY

    labels = {"method": "OTHER", "route": "<unmatched>", "status": "405"}
    before = REGISTRY.get_sample_value("service_http_requests_total", labels) or 0
    client = app_factory().test_client()
    for verb in ("BREW", "WHEN", "PROPFIND"):
        assert client.open("/livez", method=verb).status_code == 405
    assert REGISTRY.get_sample_value("service_http_requests_total", labels) == before + 3
    assert REGISTRY.get_sample_value("service_http_requests_total",
                                     {**labels, "method": "BREW"}) is None
