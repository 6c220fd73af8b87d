"""Operator endpoints: probes (`/livez`, `/healthz`, `/readyz`), `/metrics`, slow requests."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Response, request
from flask.views import MethodView

from app import metrics
from app.api import Blueprint
from app.api.ops.schemas import SlowRequestPageSchema
from app.api.schemas import PageArgsSchema
from app.auth import Permission, requires
from app.errors import Forbidden
from app.extensions import runtime
from app.services import dispatch, health, quotas, readiness, slow_requests

blp = Blueprint("ops", __name__, description="Probes, Prometheus metrics and slow requests.")


@blp.route("/livez")
class Livez(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    def get(self):
        """The process is alive."""
        return {"status": "ok"}


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    def get(self):
        """Every dependency's state, the queue depth and recent slow requests; always 200."""
        return health.report()


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    @blp.alt_response(503, description="Not ready: a dependency is down, no worker is online, "
                                       "too many slow requests, or the checks are too old")
    def get(self):
        """Ready to take work, from checks kept fresh in the background: 503 with the reasons."""
        report = readiness.report()
        return report, (200 if report["ready"] else 503)


def _metrics_allowed() -> bool:
    """A peer of `TASKPLANE_METRICS_ALLOW`, or the bearer token `TASKPLANE_METRICS_TOKEN`."""
    settings = runtime.settings
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if settings.metrics_token and scheme.lower() == "bearer":
        return hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode())
    try:
        peer = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(peer in network for network in settings.metrics_networks)


def _pinged() -> int:
    return len(dispatch.workers_online(min(runtime.settings.worker_ping_timeout, 1.0), every=True))


def _workers_online() -> int:
    """Workers answering a ping, as this app last saw them (a ping per scrape is too much)."""
    cached = runtime.own("workers_online", lambda: metrics.Cached(_pinged))
    return cached(runtime.settings.workers_online_cache_seconds)


def _ready() -> bool:
    return readiness.report()["ready"]


@blp.route("/metrics")
class Metrics(MethodView):
    # Not the API's credentials: an allowed network, or the bearer TASKPLANE_METRICS_TOKEN.
    @blp.doc(security=[])
    @blp.response(200, content_type="text/plain")
    @blp.alt_response(403, description="Peer not allowed and no valid bearer token")
    def get(self):
        """Prometheus text exposition, summed over every web process of this host."""
        if not _metrics_allowed():
            raise Forbidden("metrics are not served to this peer",
                            details={"allow": "TASKPLANE_METRICS_ALLOW or "
                                              "TASKPLANE_METRICS_TOKEN"})
        body, content_type = metrics.exposition(metrics.ScrapeTimeCollector(
            dispatch.queue_depths, quotas.usage_fractions, _workers_online, _ready))
        return Response(body, content_type=content_type)


@blp.route("/ops/slow-requests")
class SlowRequests(MethodView):
    @requires(Permission.READ_GOVERNANCE)
    @blp.page(PageArgsSchema, SlowRequestPageSchema)
    def get(self, args):
        """The tenant's most recent slow requests, newest first."""
        return slow_requests.list_slow_requests(args["cursor"], args["limit"])
