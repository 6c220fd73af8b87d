"""The audit hook: one record for every mutating call and every denied call.

Registered once in `create_app` as an `after_request` function, so no view has to
remember it. It runs after the answer is decided and before it is sent; 401s raised
at the door, identities refused there (a 400 that is a denial, `ServiceError.denial`)
and errors raised by any view pass through it too.

A creation the service commits itself (an accepted `POST /jobs`) stores its record in
that same transaction, through `record_with(status)`: the hook then has nothing left to
write for it.

When the record cannot be stored, the answer still goes out as it was: the change
(if any) is committed by then, and turning a done submit into a 500 would only make
the client do it again. The record is not lost silently either: it is logged in full
at ERROR level on `taskplane.audit`, for the log pipeline to alert on and replay.
"""

from __future__ import annotations

import json
import logging

from flask import g, request

from app.api.audit.actions import action_name, target_of
from app.api.context import principal_or_none, request_id, source_address
from app.errors import DATABASE_OUTAGES
from app.services import audit

logger = logging.getLogger("taskplane.audit")


def _created_id(response) -> str | None:
    """The id a successful creation answered with (`POST /jobs` → the job's id)."""
    if request.method != "POST" or request.view_args or not 200 <= response.status_code < 300:
        return None
    if not response.is_json or response.is_streamed:
        return None
    body = response.get_json(silent=True)
    return body.get("id") if isinstance(body, dict) else None


def audit_entry(response) -> dict:
    """The audit record of this request and its `response` (no body, no credentials)."""
    return _entry(response.status_code, _created_id(response))


def _entry(status: int, created_id: str | None) -> dict:
    principal = principal_or_none()
    rule = request.url_rule.rule if request.url_rule is not None else None
    return {
        "request_id": request_id(),
        "actor": principal.actor if principal else None,
        "roles": list(principal.roles) if principal else [],
        "tenant": principal.tenant if principal else None,
        "reason": principal.reason if principal else "unspecified",
        "action": action_name(request.endpoint, rule, request.method),
        "target": target_of(request.view_args, created_id),
        "outcome": "denied" if g.get("denial") else audit.outcome_for_status(status),
        "status": status,
        "method": request.method[:16],
        "source": source_address(),
    }


def record_with(status: int):
    """A function the service calls with the id it creates, inside its own transaction:
    it stores this request's record as answered `status` and tells the hook it is done."""
    def stage(session, created_id: str) -> None:
        audit.stage(session, _entry(status, created_id))
        g.audit_staged = True
    return stage


def record_audit(response):
    """`after_request`: store the audit record of a mutating or denied call."""
    if not (audit.is_audited(request.method, response.status_code) or g.get("denial")):
        return response
    if g.get("audit_staged"):  # committed with the change itself
        return response
    entry = {"request_id": request_id(), "method": request.method,  # if even the entry fails
             "status": response.status_code}
    try:
        entry = audit_entry(response)
        audit.record(entry)
    except DATABASE_OUTAGES as exc:  # the outage is the request's own warning: no traceback
        logger.warning("audit record NOT stored (%s): %s", type(exc).__name__,
                       json.dumps(entry, default=str))
    except Exception:
        logger.exception("audit record NOT stored: %s", json.dumps(entry, default=str))
    return response
