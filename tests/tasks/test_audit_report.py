"""`audit-report`: its rendering (pure) and the job end to end on the real worker."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from app.auth import Permission
from config.catalog import build_catalog
from tasks.builtin.audit_report import COLUMNS, render

AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
RECORD = {"id": 7, "at": AT + dt.timedelta(seconds=2), "request_id": "r-1", "actor": "alice",
          "roles": ["viewer", "ops"], "tenant": "acme", "reason": "=HYPERLINK(\"x\")",
          "action": "jobs.submit", "target": "j-1", "outcome": "allowed", "status": 202,
          "method": "POST", "source": "10.0.0.1"}
EVENT = {"id": 3, "type": "service_job_enqueued", "at": AT + dt.timedelta(seconds=1),
         "tenant": "acme", "project": "web", "actor": "alice", "job_id": "j-1",
         "job_type": "echo", "attempt": 0, "max_retries": 3, "trace_id": None,
         "data": {"reason": "deploy", "log": "/jobs/j-1/logs"}}


def cell(value) -> str:
    """What a JSON value of the report reads as in its CSV."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ",".join(value)
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, separators=(",", ":"))
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def parse(csv_bytes: bytes, json_bytes: bytes) -> tuple[list[dict], list[dict]]:
    return list(csv.DictReader(io.StringIO(csv_bytes.decode()))), json.loads(json_bytes)


def test_render_gives_the_same_entries_in_csv_and_json_oldest_first():
    rows, entries = parse(*render([RECORD], [EVENT]))

    assert [e["kind"] for e in entries] == ["event", "audit"]
    assert list(rows[0]) == list(COLUMNS)
    assert rows == [{name: cell(entry[name]) for name in COLUMNS} for entry in entries]
    event, record = entries
    assert (event["action"], event["target"], event["reason"], event["detail"]) == (
        "service_job_enqueued", "j-1", "deploy", EVENT["data"])
    assert {name: record[name] for name in RECORD} == dict(RECORD, at=RECORD["at"].isoformat())


def test_a_cell_that_would_run_as_a_spreadsheet_formula_is_made_inert():
    rows, entries = parse(*render([RECORD], []))

    assert entries[0]["reason"] == '=HYPERLINK("x")'
    assert rows[0]["reason"] == '\'=HYPERLINK("x")'


def test_render_of_an_empty_window_is_a_header_and_an_empty_list():
    csv_bytes, json_bytes = render([], [])

    assert csv_bytes.decode().strip() == ",".join(COLUMNS)
    assert json.loads(json_bytes) == []


# -- end to end --------------------------------------------------------------------------


def window(start: dt.datetime, **length) -> dict:
    return {"since": start.isoformat(), "until": (start + dt.timedelta(**length)).isoformat()}


@pytest.mark.parametrize("payload, field", [
    (window(AT, days=32), "until"),
    (window(AT, seconds=0), "until"),
    ({"since": "2026-11-01T00:00:00", "until": "2026-11-02T00:00:00"}, "since"),
    ({"since": AT.isoformat()}, "until"),
])
def test_a_bad_window_is_refused_at_submit(caller, payload, field):
    response = caller("operator").submit("audit-report", payload)

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert field in error["details"]["payload"]


def test_every_permission_the_catalog_names_exists():
    named = {spec.permission for spec in build_catalog().values() if spec.permission}

    assert named == {"read_governance"}
    assert all(Permission(name) for name in named)


@pytest.mark.parametrize("roles", ["viewer", "publisher"])
def test_only_operators_and_admins_may_submit_a_report(caller, roles):
    response = caller(roles).submit("audit-report", window(AT, days=1))

    assert response.status_code == 403
    assert response.get_json()["error"]["details"]["permission"] == "read_governance"
    assert caller(roles).get("/jobs").get_json()["items"] == []


def test_a_report_result_is_not_readable_without_read_governance(worker, caller):
    as_operator, as_viewer = caller("operator", actor="olga"), caller("viewer", actor="olga")
    job = as_operator.submit("audit-report", window(AT, days=1)).get_json()
    assert as_operator.wait_status(job["id"], "completed")

    assert as_viewer.get(f"/jobs/{job['id']}/result").status_code == 403
    assert caller("viewer", actor="vera").get(f"/jobs/{job['id']}/result").status_code == 403
    assert as_operator.get(f"/jobs/{job['id']}/result").status_code == 200
    assert caller("viewer", actor="vera").get(f"/jobs/{job['id']}").status_code == 200


def test_report_artifacts_are_read_only_by_those_who_may_run_a_report(worker, caller):
    olga, vera = caller("operator", actor="olga"), caller("viewer", actor="vera")
    job = olga.submit("audit-report", window(AT, days=1)).get_json()
    assert olga.wait_status(job["id"], "completed")
    reports = [a["id"] for a in olga.get(f"/jobs/{job['id']}/artifacts").get_json()["items"]]
    assert len(reports) == 2

    for report in reports:
        assert vera.get(f"/artifacts/{report}").status_code == 403
        assert vera.get(f"/artifacts/{report}/download").status_code == 403
        assert vera.post(f"/artifacts/{report}/download-url").status_code == 403
        assert caller("publisher", actor="pat").delete(f"/artifacts/{report}").status_code == 403
        assert olga.get(f"/artifacts/{report}/download").status_code == 200
    link = olga.post(f"/artifacts/{reports[0]}/download-url").get_json()["url"]
    assert vera.client.get(link).status_code == 200  # the operator's link serves anyone
    assert vera.get(f"/jobs/{job['id']}/artifacts").get_json()["items"] == []
    assert not {a["id"] for a in vera.get("/artifacts").get_json()["items"]} & set(reports)

    bundle = vera.submit("artifact-bundle", {"artifact_ids": reports}).get_json()
    assert vera.wait_status(bundle["id"], ("completed", "failed"))["status"] == "completed"
    (made,) = olga.get(f"/jobs/{bundle['id']}/artifacts").get_json()["items"]
    assert vera.get(f"/artifacts/{made['id']}/download").status_code == 403  # as restricted
    assert olga.get(f"/artifacts/{made['id']}/download").status_code == 200


def test_a_demoted_submitter_cannot_retry_the_report(worker, caller):
    as_operator, as_viewer = caller("operator", actor="olga"), caller("viewer", actor="olga")
    job = as_operator.submit("audit-report", window(AT, days=1)).get_json()
    assert as_operator.wait_status(job["id"], "completed")
    retried = as_viewer.post(f"/jobs/{job['id']}/retry")  # the permission is checked first

    assert retried.status_code == 403
    assert retried.get_json()["error"]["details"]["permission"] == "read_governance"


def test_report_renders_the_tenants_window_and_nothing_of_another_tenant(
        worker, caller, tenant, job_logs):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    alice, olga = caller("viewer", actor="alice"), caller("operator", actor="olga")
    other = caller("operator", actor="mallory", tenant_=f"{tenant}-b")
    echo = alice.submit("echo", {"message": "hi"}).get_json()
    alice.wait_status(echo["id"], "completed")
    assert alice.submit("echo", {"message": 1}).status_code == 422
    assert alice.get("/audit").status_code == 403
    foreign = other.post(f"/jobs/{echo['id']}/cancel", headers={"X-Request-ID": "foreign-1"})
    assert foreign.status_code == 404
    assert other.submit("echo", {"message": "b"}).status_code == 202
    expected = olga.get("/audit").get_json()["items"]
    assert len(expected) == 3

    job = olga.submit("audit-report", window(start, minutes=5)).get_json()
    done = olga.wait_status(job["id"], ("completed", "failed"))
    assert done["status"] == "completed", done["error"]
    result = olga.get(f"/jobs/{job['id']}/result").get_json()["result"]
    stored = {a["name"].rsplit(".", 1)[1]: a for a in result["artifacts"]}
    assert sorted(stored) == ["csv", "json"]
    assert [a["id"] for a in olga.get(f"/jobs/{job['id']}/artifacts").get_json()["items"]] == [
        a["id"] for a in result["artifacts"]]
    text, body = (olga.get(f"/artifacts/{stored[kind]['id']}/download").get_data(as_text=True)
                  for kind in ("csv", "json"))

    entries = json.loads(body)
    audited = [e for e in entries if e["kind"] == "audit"]
    assert {e["request_id"] for e in expected} <= {e["request_id"] for e in audited}
    assert "foreign-1" not in {e["request_id"] for e in audited}
    assert {e["tenant"] for e in entries} == {tenant}
    assert {(e["action"], e["target"]) for e in entries if e["kind"] == "event"} >= {
        ("service_job_enqueued", echo["id"]), ("service_job_completed", echo["id"])}
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{name: cell(entry[name]) for name in COLUMNS} for entry in entries]
    assert result["window"] == {key: dt.datetime.fromisoformat(value).isoformat()
                                for key, value in window(start, minutes=5).items()}
    assert result["counts"]["audit"] == len(audited)
    assert result["counts"]["by_outcome"]["denied"] == 1
    assert result["counts"]["by_outcome"]["failed"] == 1
    logged = [e["fields"] for e in job_logs(job["id"]) if "fields" in e]
    assert [line["event"] for line in logged] == ["audit_report_started", "audit_report_read",
                                                  "audit_report_finished"]
    assert {(line["tenant"], line["project"], line["job_id"]) for line in logged} == {
        (tenant, "proj", job["id"])}


def test_report_of_a_window_before_anything_happened_is_empty(worker, caller):
    olga = caller("operator", actor="olga")
    job = olga.submit("audit-report", window(AT - dt.timedelta(days=400), days=1)).get_json()

    assert olga.wait_status(job["id"], ("completed", "failed"))["status"] == "completed"
    result = olga.get(f"/jobs/{job['id']}/result").get_json()["result"]
    (report,) = [a for a in result["artifacts"] if a["name"].endswith(".json")]
    body = olga.get(f"/artifacts/{report['id']}/download").get_json()
    assert (result["counts"]["audit"], result["counts"]["events"], body) == (0, 0, [])
