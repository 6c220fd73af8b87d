"""`/events`: governance events of the tenant (operator and admin)."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.api.events.schemas import EventListArgsSchema, EventPageSchema
from app.api.schemas import fetch_page
from app.auth import Permission, requires
from app.extensions import db
from app.services import events

blp = Blueprint("events", __name__, url_prefix="/events",
                description="Governance events: job lifecycle, quotas, artifacts.")


@blp.route("")
class Events(MethodView):
    @requires(Permission.READ_GOVERNANCE)
    @blp.page(EventListArgsSchema, EventPageSchema)
    def get(self, args):
        """The tenant's governance events, newest first."""
        return fetch_page(args, events.list_events, db.session)
