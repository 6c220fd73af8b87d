"""The audit log: record one call, list a tenant's records, read a report window.

Outcomes:
- `allowed` — the call was answered with success (1xx-3xx);
- `denied`  — the caller was refused: 401 (no valid credentials), 403 (missing
  permission), 404 (no such object in the caller's tenant, which includes another
  tenant's), 429 (rate limit or quota);
- `failed`  — the call was let in but did not succeed: any other 4xx (invalid input,
  conflict, too large ...) or a 5xx.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy import insert, select

from app.db import log_after_commit, utcnow
from app.extensions import db
from app.models import AuditRecord, GovernanceEvent
from app.services.pagination import Page, narrow, paginate
from app.services.tenancy import confined

logger = logging.getLogger("taskplane.audit")

OUTCOMES = ("allowed", "denied", "failed")
DENIED_STATUSES = frozenset({401, 403, 404, 429})
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDIT = AuditRecord.__table__
FIELDS = ("id", "at", "request_id", "actor", "roles", "tenant", "reason", "action", "target",
          "outcome", "status", "method", "source")
EVENT_FIELDS = ("id", "type", "at", "tenant", "project", "actor", "job_id", "job_type",
                "attempt", "max_retries", "trace_id", "data")


def outcome_for_status(status: int) -> str:
    """`allowed`, `denied` or `failed` for an HTTP status (see the module docstring)."""
    if status in DENIED_STATUSES:
        return "denied"
    return "allowed" if status < 400 else "failed"


def is_audited(method: str, status: int) -> bool:
    """Every mutating call, whatever its answer, and every denied call is audited."""
    return method in MUTATING_METHODS or status in DENIED_STATUSES


def stage(session, entry: dict) -> dict:
    """Insert one audit record in `session`'s transaction; it commits with the change.

    The log line follows the commit (and is dropped with a rollback), as for events.
    """
    row = dict(entry, at=entry.get("at") or utcnow())
    session.execute(insert(AUDIT), [row])
    log_after_commit(session, logger, logging.INFO,
                     json.dumps({"audit": row["action"], **row, "at": row["at"].isoformat()},
                                default=str))
    return row


def record(entry: dict) -> dict:
    """Store one audit record in a transaction of its own; returns the record as stored.

    Whatever the request's session still holds uncommitted is rolled back first: it
    was never going to be committed (the request is over), and it must not ride along
    with the audit row, nor hold a lock the audit row would wait for.
    """
    session = db.session
    session.rollback()
    try:
        row = stage(session, entry)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return row


def list_records(filters: dict, cursor: str | None, limit: int) -> Page:
    """The tenant's audit records (the session is tenant-scoped), newest first; filters:
    actor, action, outcome, since, until."""
    stmt = narrow(select(AuditRecord), AuditRecord, filters, ("actor", "action", "outcome"),
                  AuditRecord.at)
    return paginate(db.session, stmt, (AuditRecord.at, AuditRecord.id), cursor, limit)


def _window(model, since: dt.datetime, until: dt.datetime, limit: int):
    stmt = (select(model).where(model.at >= since, model.at < until)
            .order_by(model.at, model.id).limit(limit + 1))
    return list(db.session.scalars(stmt))


class WindowTooLarge(Exception):
    """The window holds more rows than a report may carry."""


def report_window(tenant: str, since: dt.datetime, until: dt.datetime,
                  max_rows: int) -> tuple[list[dict], list[dict]]:
    """The tenant's audit records and governance events in [since, until), oldest first.

    Plain dicts, and the read transaction ends here: the caller renders without holding
    the database. More than `max_rows` of either kind raises `WindowTooLarge`. System
    side (a job of `tenant`): the session is confined to `tenant` for the read.
    """
    try:
        with confined(db.session, tenant):
            records = _window(AuditRecord, since, until, max_rows)
            events = _window(GovernanceEvent, since, until, max_rows)
        if len(records) > max_rows or len(events) > max_rows:
            raise WindowTooLarge(f"more than {max_rows} audit records or events in the window")
        return ([{name: getattr(r, name) for name in FIELDS} for r in records],
                [{name: getattr(e, name) for name in EVENT_FIELDS} for e in events])
    finally:
        db.session.rollback()
