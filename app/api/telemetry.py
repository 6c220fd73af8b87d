"""Per request: metrics by URL rule, one structured log line, slow API requests kept.

`start_request` runs before everything else and `finish_request` after everything
else, so the duration covers authentication, rate limiting, the view and the audit row.
"""

from __future__ import annotations

import logging
import time

from flask import g, request

from app import logs, metrics, tracing
from app.api.context import principal_or_none, request_id
from app.extensions import runtime
from app.services import slow_requests

logger = logging.getLogger("taskplane.http")
UNMATCHED = "<unmatched>"  # a path no URL rule matches: one label, whatever the path
# Probes and scrapes are the platform's, not the API's: timed and logged, never slow requests.
PROBES = frozenset({"/livez", "/healthz", "/readyz", "/metrics"})


def start_request() -> None:
    """Start the clock; every line logged during the request names it and its trace."""
    g.request_started = time.perf_counter()
    g.trace_id = tracing.trace_id_from(request.headers)
    logs.bind(request_id=request_id(), trace_id=g.trace_id)


def request_trace_id() -> str | None:
    """The trace this request belongs to: its span's, else the caller's `traceparent`."""
    return g.get("trace_id")


def bind_principal() -> None:
    """Once the principal is known: lines name the actor, tenant and reason; so does the span."""
    principal = principal_or_none()
    if principal is not None:
        logs.bind(actor=principal.actor, tenant=principal.tenant, reason=principal.reason)
        tracing.annotate(tenant=principal.tenant, actor=principal.actor)


def finish_request(response):
    """Count the request, log it in one line, and keep it when it was slow."""
    started = g.pop("request_started", None)
    if started is None:  # an error before `start_request` ran: nothing to time
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    metrics.observe_request(request.method, route, response.status_code, seconds)
    principal = principal_or_none()
    line = {"method": request.method, "route": route, "status": response.status_code,
            "duration_ms": round(seconds * 1000, 2)}
    if principal is not None:
        line.update(actor=principal.actor, tenant=principal.tenant, reason=principal.reason)
    if seconds * 1000 < runtime.settings.slow_request_ms or route in PROBES:
        logger.info("request", extra=line)
        return response
    metrics.SLOW_REQUESTS.labels(metrics.method_label(request.method), route).inc()
    logger.warning("slow request", extra=dict(line, threshold_ms=runtime.settings.slow_request_ms))
    try:
        slow_requests.record(tenant=line.get("tenant"), actor=line.get("actor"),
                             method=request.method, route=route, path=request.path,
                             status=response.status_code, duration_ms=line["duration_ms"],
                             request_id=request_id(), trace_id=g.get("trace_id"))
    except Exception:
        logger.exception("could not store a slow request")
    return response


def end_request(_exc) -> None:
    """The request's log fields end with it (a worker thread serves the next one)."""
    logs.LOG_CONTEXT.set(None)
