"""Per-actor request rate limits: flask-limiter over Redis, one budget per route class.

Every request counts against its caller's budget for its class: `submit` (`POST /jobs`),
`write` (any other POST, PUT, PATCH or DELETE) or `read` (the rest). The caller is the
tenant and actor of the principal, so the check runs after `authenticate` (its hook is
registered after it); a request without a principal counts against its remote address.
The public probes and API docs are exempt. The limiter is built per app from that app's
settings (tests build apps with different limits), not bound from a module-level handle.
Over budget: 429 `rate_limited` with `Retry-After` and `X-RateLimit-Limit`, `-Remaining`
and `-Reset`. When the storage cannot be reached, requests are served unlimited and the
failure is logged.
"""

from __future__ import annotations

from functools import partial

from flask import Flask, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from app.api import error_response
from app.api.context import PUBLIC_ENDPOINTS, PUBLIC_PREFIXES
from config.settings import Settings

SUBMIT, WRITE, READ = "submit", "write", "read"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def route_class() -> str:
    """`submit`, `write` or `read`: which budget this request spends."""
    if request.method == "POST" and request.endpoint == "jobs.Jobs":
        return SUBMIT
    return WRITE if request.method in MUTATING else READ


def caller_key() -> str:
    """Tenant and actor of the principal; the remote address when there is none."""
    principal = g.get("principal")
    if principal is None:
        return f"address:{get_remote_address()}"
    return f"actor:{principal.tenant}:{principal.actor}"


def _public() -> bool:
    endpoint = request.endpoint or ""
    return endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES)


def _not_of_class(name: str) -> bool:
    return route_class() != name


def _limited(error: RateLimitExceeded):
    """429 `rate_limited` in the shared envelope (flask-limiter adds the headers)."""
    g.rate_limited = True
    return error_response(429, "rate_limited", f"rate limit exceeded: {error.description}",
                          {"limit": error.description, "route_class": route_class()})


# flask-limiter writes `Retry-After` on every response it sees (the window's reset, or
# later); only a rate-limited answer should carry its value. The first hook runs before
# flask-limiter's header hook and keeps the response's own value, the second runs after
# it and puts that value back (a quota refusal's `Retry-After`, or none at all).
def _keep_own_retry_after(response):
    g.own_retry_after = response.headers.get("Retry-After")
    return response


def _restore_own_retry_after(response):
    if not g.get("rate_limited"):
        response.headers.pop("Retry-After", None)
        if g.get("own_retry_after") is not None:
            response.headers["Retry-After"] = g.own_retry_after
    return response


def init_rate_limits(app: Flask, settings: Settings) -> Limiter | None:
    """Bind a limiter to `app` when rate limits are on; call after `authenticate` is hooked."""
    if not settings.rate_limits_enabled:
        return None
    budgets = {SUBMIT: settings.rate_limit_submit, WRITE: settings.rate_limit_write,
               READ: settings.rate_limit_read}
    limiter = Limiter(
        caller_key,
        application_limits=[ApplicationLimit(limit, scope=name,
                                             exempt_when=partial(_not_of_class, name))
                            for name, limit in budgets.items()],
        storage_uri=settings.rate_limit_storage_url or settings.broker_url,
        strategy="fixed-window",
        headers_enabled=True,
        key_prefix="taskplane-rate",
        swallow_errors=True,  # storage down: serve unlimited (and log it) rather than fail
    )
    limiter.request_filter(_public)
    app.after_request(_restore_own_retry_after)  # after_request hooks run last-in, first-out
    limiter.init_app(app)
    app.after_request(_keep_own_retry_after)
    app.register_error_handler(RateLimitExceeded, _limited)
    return limiter
