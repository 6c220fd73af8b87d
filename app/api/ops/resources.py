"""Operator probes: `/livez`, `/healthz`, `/readyz` (no authentication)."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.services import health

blp = Blueprint("ops", __name__, description="Liveness, health and readiness probes.")


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
        """Every dependency's state and the queue depth; always 200."""
        return health.report()


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    @blp.alt_response(503, description="Not ready: a dependency is down or no worker is online")
    def get(self):
        """Ready to take work: 503 with the reasons when a dependency is down."""
        report = health.report()
        return report, (200 if report["ready"] else 503)
