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

A request costs one Redis round trip for its budget: the storage's increment also
returns the window's remaining time, and the `X-RateLimit-*` headers read that answer
(kept on `g` for the request) instead of asking Redis twice more.

Failed authentication has a budget of its own per remote address and claimed identity
(`claimed_identity`: the API key's lookup prefix, the JWT's unverified issuer and
subject, the identity headers' tenant and actor, or none): every 401 spends it, and once
it is spent that identity is refused 429 from that address before its credentials are
verified, until the window passes, so one key or token cannot be guessed at request
speed. A valid credential never answers 401, so its own budget is never spent: a bad
client behind a shared address (a NAT, a proxy) spends only the budget of the identity
it claims, and every other caller from that address is served.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import limits
from flask import Flask, g, has_request_context, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits.storage import RedisStorage

from app.api import error_response
from app.api.context import assign_request_id, claimed_identity, is_public, principal_or_none
from app.services.audit import MUTATING_METHODS  # what is a write: the audit log's rule
from config.settings import Settings

log = logging.getLogger("taskplane.rate_limits")
AUTH_FAILURES = "auth-failures"  # the namespace of the failed-authentication budget

SUBMIT, WRITE, READ = "submit", "write", "read"
SCHEME = "taskplane+"  # storage URIs of `OneTripRedisStorage`: taskplane+redis://…
INCR_WITH_TTL = """
local current = redis.call("incrby", KEYS[1], tonumber(ARGV[2]))
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


class OneTripRedisStorage(RedisStorage):
    """limits' Redis storage whose fixed-window hit also answers the window's stats.

    `incr` returns the count and the key's time to live in one script call and keeps both
    on `g`; the `get` and `get_expiry` that follow for the same key in the same request
    (flask-limiter's headers) answer from there.
    """

    STORAGE_SCHEME = [f"{SCHEME}redis", f"{SCHEME}rediss"]

    def __init__(self, uri: str, **options):
        super().__init__(uri.removeprefix(SCHEME), **options)

    def initialize_storage(self, uri: str) -> None:
        """Register limits' scripts and the one that increments and reads the TTL."""
        super().initialize_storage(uri)
        self.lua_incr_with_ttl = self.get_connection().register_script(INCR_WITH_TTL)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Increment the window's counter; remember count and reset for this request."""
        count, ttl = self.lua_incr_with_ttl([self.prefixed_key(key)], [expiry, amount])
        if has_request_context():
            g.setdefault("rate_windows", {})[key] = (int(count), max(ttl, 0) + time.time())
        return int(count)

    def _seen(self, key: str):
        return g.get("rate_windows", {}).get(key) if has_request_context() else None

    def get(self, key: str) -> int:
        """The counter, as this request's increment left it, else from Redis."""
        seen = self._seen(key)
        return seen[0] if seen else super().get(key)

    def get_expiry(self, key: str) -> float:
        """When the window resets, as this request's increment saw it, else from Redis."""
        seen = self._seen(key)
        return seen[1] if seen else super().get_expiry(key)


def route_class() -> str:
    """`submit`, `write` or `read`: which budget this request spends."""
    if request.method == "POST" and request.endpoint == "jobs.Jobs":
        return SUBMIT
    return WRITE if request.method in MUTATING_METHODS else READ


def caller_key() -> str:
    """Tenant and actor of the principal; the remote address when there is none."""
    principal = principal_or_none()
    if principal is None:
        return f"address:{get_remote_address()}"
    return f"actor:{principal.tenant}:{principal.actor}"


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


class FailedAuthBudget:
    """Failed authentications per remote address and claimed identity; spent → 429 at the door."""

    def __init__(self, limiter: Limiter, limit: str):
        self.limiter, self.item = limiter, limits.parse(limit)

    @staticmethod
    def _key() -> tuple[str, str]:
        return get_remote_address(), claimed_identity()

    def refuse_when_spent(self):
        """Before authentication: 429 `rate_limited` while this identity's budget is spent."""
        if request.url_rule is None or is_public(request.endpoint):
            return None
        key = self._key()
        try:
            if self.limiter.limiter.test(self.item, AUTH_FAILURES, *key):
                return None
            reset, _ = self.limiter.limiter.get_window_stats(self.item, AUTH_FAILURES, *key)
        except Exception:  # storage down: serve, as the other budgets do
            log.exception("rate limit storage unreachable; failed-authentication budget off")
            return None
        g.rate_limited = True
        return error_response(429, "rate_limited", "too many failed authentications",
                              {"limit": str(self.item), "route_class": "authentication"},
                              {"Retry-After": str(max(1, int(reset - time.time())))})

    def spend_on_failure(self, response):
        """After the answer: a 401 spends one unit of this identity's budget at this address."""
        if response.status_code == 401:
            try:
                self.limiter.limiter.hit(self.item, AUTH_FAILURES, *self._key())
            except Exception:  # storage down: the answer goes out anyway
                log.exception("rate limit storage unreachable; a failed authentication "
                              "was not counted")
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
        storage_uri=(SCHEME + settings.redis_url
                     if settings.redis_url.startswith(("redis://", "rediss://"))
                     else settings.redis_url),
        strategy="fixed-window",
        headers_enabled=True,
        key_prefix="taskplane-rate",
        swallow_errors=True,  # storage down: serve unlimited (and log it) rather than fail
    )
    limiter.request_filter(lambda: is_public(request.endpoint))
    app.after_request(_restore_own_retry_after)  # after_request hooks run last-in, first-out
    limiter.init_app(app)
    app.after_request(_keep_own_retry_after)
    app.register_error_handler(RateLimitExceeded, _limited)
    failures = FailedAuthBudget(limiter, settings.rate_limit_auth_failures)
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(hooks.index(assign_request_id) + 1, failures.refuse_when_spent)  # before auth
    app.after_request(failures.spend_on_failure)
    return limiter
