"""`audit-report`: the tenant's audit records and governance events of a window, as CSV and JSON.

Payload: `{"since": iso, "until": iso}` (`until` later, at most 31 days on). Both
renderings hold the same entries, oldest first, one flat record each with the columns
of `COLUMNS`: audit records as `kind` `audit`, governance events as `kind` `event`
(their type in `action`, their job id in `target`). The job's result carries the
window, counts and both renderings; `render` is pure, so the two renderings can be
stored as they are wherever reports are kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter

import marshmallow as ma
from marshmallow import fields, validates_schema

from app.services import audit
from config.catalog import JobType, PayloadSchema
from tasks.errors import JobError

MAX_ROWS = 20_000  # of each kind: the window is read and rendered in memory
COLUMNS = ("kind", "id", "at", "tenant", "actor", "roles", "reason", "action", "target",
           "outcome", "status", "method", "source", "request_id", "project", "job_type",
           "attempt", "detail")
# A spreadsheet runs a cell that starts with one of these as a formula; audit fields
# such as the reason are the caller's own text, so such cells are quoted with a "'".
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class AuditReportPayload(PayloadSchema):
    MAX_WINDOW = dt.timedelta(days=31)

    since = fields.AwareDateTime(required=True, default_timezone=None)
    until = fields.AwareDateTime(required=True, default_timezone=None)

    @validates_schema
    def _window(self, data, **_kwargs):
        if data["until"] <= data["since"]:
            raise ma.ValidationError("must be later than since", field_name="until")
        if data["until"] - data["since"] > self.MAX_WINDOW:
            raise ma.ValidationError(f"the window is at most {self.MAX_WINDOW.days} days",
                                     field_name="until")


JOB_TYPE = JobType(
    name="audit-report",
    description="Renders the tenant's audit records and governance events of a window "
    "[since, until) (at most 31 days) as CSV and JSON.",
    payload_schema=AuditReportPayload,
    handler=f"{__name__}:run",
    permission="read_governance",
)


def audit_entry(row: dict) -> dict:
    """An audit record as a report entry."""
    entry = dict.fromkeys(COLUMNS)
    entry.update({name: row[name] for name in audit.FIELDS}, kind="audit")
    return entry


def event_entry(event: dict) -> dict:
    """A governance event as a report entry."""
    entry = dict.fromkeys(COLUMNS)
    data = event["data"] or {}
    entry.update(kind="event", id=event["id"], at=event["at"],
                 tenant=event["tenant"], actor=event["actor"], action=event["type"],
                 target=event["job_id"], reason=data.get("reason"), project=event["project"],
                 job_type=event["job_type"], attempt=event["attempt"], detail=data or None)
    return entry


def csv_cell(value) -> str:
    """One entry value as a CSV cell: lists comma-joined, objects as JSON, text made inert."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ",".join(map(str, value))
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    elif not isinstance(value, str):
        return str(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def entries(records: list[dict], events: list[dict]) -> list[dict]:
    """Audit records and events as report entries, oldest first."""
    merged = [audit_entry(r) for r in records] + [event_entry(e) for e in events]
    merged.sort(key=lambda e: (e["at"], e["kind"], e["id"]))
    return [dict(e, at=e["at"].isoformat()) for e in merged]


def render(records: list[dict], events: list[dict]) -> tuple[bytes, bytes]:
    """(CSV bytes, JSON bytes) of the same entries."""
    rows = entries(records, events)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows([csv_cell(entry[name]) for name in COLUMNS] for entry in rows)
    return text.getvalue().encode(), json.dumps(rows, default=str).encode()


def counts(records: list[dict], events: list[dict]) -> dict:
    """How many records and events, by outcome, action and event type."""
    return {"audit": len(records), "events": len(events),
            "by_outcome": dict(Counter(r["outcome"] for r in records)),
            "by_action": dict(Counter(r["action"] for r in records)),
            "by_event_type": dict(Counter(e["type"] for e in events))}


def run(ctx, payload: dict) -> dict:
    """Read the window through the audit service and render it."""
    since = dt.datetime.fromisoformat(payload["since"])
    until = dt.datetime.fromisoformat(payload["until"])
    ctx.log("audit report started", event="audit_report_started", since=payload["since"],
            until=payload["until"])
    try:
        records, events = audit.report_window(ctx.tenant, since, until, MAX_ROWS)
    except audit.WindowTooLarge as exc:
        raise JobError(f"{exc}; ask for a shorter window") from exc
    ctx.progress(0.5, "read")
    ctx.log("window read", event="audit_report_read", audit=len(records), events=len(events))
    csv_bytes, json_bytes = render(records, events)
    ctx.progress(0.9, "rendered")
    ctx.log("audit report rendered", event="audit_report_finished", csv_bytes=len(csv_bytes),
            json_bytes=len(json_bytes))
    first, last = since.astimezone(dt.UTC), until.astimezone(dt.UTC)
    stem = f"audit-report-{first:%Y%m%dT%H%M%SZ}-{last:%Y%m%dT%H%M%SZ}"
    stored = [ctx.add_artifact(f"{stem}.csv", csv_bytes, type="audit-report",
                               content_type="text/csv"),
              ctx.add_artifact(f"{stem}.json", json_bytes, type="audit-report",
                               content_type="application/json")]
    return {"window": {"since": payload["since"], "until": payload["until"]},
            "counts": counts(records, events), "artifacts": stored}
