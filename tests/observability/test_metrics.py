"""/metrics against the running stack: present, moving with traffic, summed over both workers."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.multiprocess import MultiProcessCollector

from tests.harness import wait_until
from tests.observability.conftest import log_lines, samples, value

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "taskplane.json"


def _per_process(folder: str, name: str, **labels) -> dict[int, float]:
    """The value of one counter sample in each process's own file of a multiprocess folder."""
    totals = {}
    for path in glob.glob(os.path.join(folder, "counter_*.db")):
        pid = int(re.search(r"_(\d+)\.db$", path).group(1))
        for metric in MultiProcessCollector.merge([path], accumulate=True):
            for sample in metric.samples:
                if sample.name == name and sample.labels == labels:
                    totals[pid] = totals.get(pid, 0) + sample.value
    return totals


def test_request_counts_are_summed_over_both_gunicorn_workers(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    sent = 0

    def both_counted():
        nonlocal sent
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: stack.call("GET", "/job-types", tenant)
                                     .status_code, range(16)))
        assert statuses == [200] * 16
        sent += 16
        counts = _per_process(stack.web_metrics_dir, "service_http_requests_total",
                              method="GET", route="/job-types", status="200")
        return len([c for c in counts.values() if c > 0]) >= 2

    wait_until(both_counted, 60, interval=0, message="both gunicorn workers to serve")
    exposition = stack.web_metrics()
    assert value(exposition, "service_http_requests_total", method="GET", route="/job-types",
                 status="200") == sent
    assert value(exposition, "service_http_request_duration_seconds_count", method="GET",
                 route="/job-types") == sent


def test_route_label_is_the_url_rule_never_the_path(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    before = stack.web_metrics()
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for job_id in ids:
        assert stack.call("GET", f"/jobs/{job_id}", tenant).status_code == 404
    assert stack.call("GET", "/no/such/path", tenant).status_code == 404
    after = stack.web_metrics()
    labels = dict(method="GET", route="/jobs/<job_id>", status="404")
    assert (value(after, "service_http_requests_total", **labels)
            - value(before, "service_http_requests_total", **labels)) == 3
    assert value(after, "service_http_requests_total", method="GET", route="<unmatched>",
                 status="404") >= 1
    assert not any(job_id in after for job_id in ids)


def test_job_metrics_move_with_traffic(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    web_before, worker_before = stack.web_metrics(), stack.worker_metrics()
    jobs = [stack.call("POST", "/jobs", tenant, json={"job_type": "echo", "project": "p",
                                                      "payload": {"message": str(i)}}).json()
            for i in range(4)]
    retried = stack.call("POST", "/jobs", tenant, json={
        "job_type": "echo", "project": "p",
        "payload": {"message": "again", "fail_times": 1}}).json()

    def finished():
        return all(stack.call("GET", f"/jobs/{job['id']}", tenant).json()["status"]
                   == "completed" for job in [*jobs, retried])

    wait_until(finished, 90, interval=0.2, message="the jobs to complete")

    def moved(exposition, before, name, **labels):
        return value(exposition, name, **labels) - value(before, name, **labels)

    web = stack.web_metrics()
    assert moved(web, web_before, "service_jobs_total", job_type="echo", status="queued") == 5
    worker = wait_until(lambda: (text := stack.worker_metrics()) and moved(
        text, worker_before, "service_jobs_total", job_type="echo", status="completed") == 5
        and text, 30, message="the worker's counts")
    assert moved(worker, worker_before, "service_jobs_total", job_type="echo",
                 status="running") == 6
    assert moved(worker, worker_before, "service_jobs_total", job_type="echo",
                 status="retrying") == 1
    assert moved(worker, worker_before, "service_job_retries_total", job_type="echo") == 1
    assert moved(worker, worker_before, "service_job_queue_wait_ms_count", job_type="echo") == 6
    assert moved(worker, worker_before, "service_job_duration_ms_count", job_type="echo",
                 status="completed") == 5
    assert value(web, "service_job_quota_usage", tenant=tenant, job_type="echo",
                 quota="max_per_hour") > 0
    assert value(web, "service_workers_online") == 1
    assert ("service_job_queue_depth", (("queue", "default"),)) in samples(web)


def test_queue_depth_counts_every_priority_of_a_queue(stack, app_factory, redis_url):
    """Jobs of every priority waiting on a broker no worker reads: all of them counted."""
    from app.services import dispatch
    from tests.observability.conftest import own_broker

    broker = own_broker(redis_url, 4)
    app = app_factory(broker_url=broker)
    client = app.test_client()
    headers = {"X-Actor": "alice", "X-Roles": "operator", "X-Tenant": f"t-{uuid.uuid4().hex}"}
    try:
        for priority in range(10):
            response = client.post("/jobs", headers=headers, json={
                "job_type": "echo", "project": "p", "payload": {"message": "x"},
                "priority": priority})
            assert response.status_code == 202
        lists = {key.decode() for key in redis_client(broker).keys("default*")}
        assert len(lists) > 1  # the priorities sit in several lists: default, default:N …
        with app.app_context():
            assert dispatch.queue_depths()["default"] == 10
        exposition = client.get("/metrics").get_data(as_text=True)
        assert value(exposition, "service_job_queue_depth", queue="default") == 10
    finally:
        redis_client(broker).flushdb()
        app_factory()


def redis_client(url: str):
    """A redis client for `url`."""
    import redis

    return redis.Redis.from_url(url)


def test_exposition_parses_and_passes_promtool(stack):
    for exposition in (stack.web_metrics(), stack.worker_metrics()):
        assert samples(exposition)  # prometheus-client's parser reads every line
        checked = subprocess.run(["promtool", "check", "metrics"], input=exposition,
                                 capture_output=True, text=True, check=False)
        problems = [line for line in (checked.stdout + checked.stderr).splitlines()
                    if line.strip() and "should be in base units" not in line]
        assert checked.returncode in (0, 3) and not [
            p for p in problems if "error" in p.lower()], checked.stdout + checked.stderr


def test_metrics_refused_to_a_peer_not_allowed(stack):
    response = requests.get(f"{stack.web.url}/metrics", timeout=10)  # loopback: not allowed
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    wrong = requests.get(f"{stack.web.url}/metrics", timeout=10,
                         headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403


def test_slow_request_is_counted_logged_and_kept(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    before = stack.web_metrics()
    job = stack.call("POST", "/jobs", tenant, json={"job_type": "echo", "project": "p",
                                                     "payload": {"message": "slow"}})
    assert job.status_code == 202
    after = stack.web_metrics()
    assert (value(after, "service_slow_requests_total", method="POST", route="/jobs")
            - value(before, "service_slow_requests_total", method="POST", route="/jobs")) == 1
    kept = stack.call("GET", "/ops/slow-requests", tenant).json()["items"]
    assert [(r["route"], r["status"], r["tenant"]) for r in kept] == [("/jobs", 202, tenant)]
    assert kept[0]["duration_ms"] > 0
    warned = [line for line in log_lines(stack.web.log_path)
              if line.get("message") == "slow request" and line.get("tenant") == tenant
              and line.get("route") == "/jobs"]
    assert len(warned) == 1 and warned[0]["level"] == "WARNING"
    assert warned[0]["duration_ms"] == kept[0]["duration_ms"]
    assert warned[0]["request_id"] == kept[0]["request_id"] and warned[0]["threshold_ms"] == 0
    health = requests.get(f"{stack.web.url}/healthz", timeout=30).json()
    assert health["slow_requests"]["last_5_minutes"] >= 1
    assert health["slow_requests"]["slowest"]["duration_ms"] >= kept[0]["duration_ms"]


def test_request_log_lines_carry_the_request_fields(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    response = stack.call("GET", "/jobs", tenant, headers={"X-Request-ID": f"req-{tenant}",
                                                           "X-Reason": "audit check"})
    assert response.status_code == 200

    def line():
        return next((entry for entry in log_lines(stack.web.log_path)
                     if entry.get("request_id") == f"req-{tenant}"
                     and entry.get("logger") == "taskplane.http"), None)

    entry = wait_until(line, 10, message="the request's log line")
    assert {k: entry[k] for k in ("level", "logger", "actor", "tenant", "route", "method",
                                  "status")} == {
        "level": "WARNING", "logger": "taskplane.http", "actor": "alice", "tenant": tenant,
        "route": "/jobs", "method": "GET", "status": 200}
    assert entry["reason"] and entry["duration_ms"] >= 0 and "time" in entry


def _metric_names(expression: str) -> set[str]:
    return set(re.findall(r"\bservice_[a-z_]+", expression))


def _expressions() -> list[str]:
    rules = [rule["expr"] for group in yaml.safe_load(ALERTS.read_text())["groups"]
             for rule in group["rules"]]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return rules + [target["expr"] for panel in panels for target in panel["targets"]]


def test_alert_rules_pass_promtool():
    checked = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout


def test_example_scrape_configuration_passes_promtool():
    checked = subprocess.run(["promtool", "check", "config", str(ALERTS.parent / "prometheus.yml")],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("needed", ["worker", "queue depth", "fail", "quota", "slow", "ready"])
def test_alerts_cover_what_the_issue_names(needed):
    names = " ".join(rule["alert"] + rule["annotations"]["summary"]
                     for group in yaml.safe_load(ALERTS.read_text())["groups"]
                     for rule in group["rules"]).lower()
    assert needed in names.replace("queuedepth", "queue depth")


def test_every_alert_and_panel_names_an_exported_metric(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    job = stack.call("POST", "/jobs", tenant, json={
        "job_type": "echo", "project": "p", "payload": {"message": "m", "fail_times": 1}}).json()
    wait_until(lambda: stack.call("GET", f"/jobs/{job['id']}", tenant).json()["status"]
               == "completed", 60, interval=0.2, message="the job to complete")
    wait_until(lambda: "service_job_retries_total" in stack.worker_metrics(), 30,
               message="the retry to be counted")
    exported = {s[0] for text in (stack.web_metrics(), stack.worker_metrics())
                for s in samples(text)}
    expressions = _expressions()
    assert len(expressions) >= 15
    for expression in expressions:
        names = _metric_names(expression)
        assert names, expression
        assert names <= exported, (expression, names - exported)
