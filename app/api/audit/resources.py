"""`/audit`: the tenant's audit log (operator and admin)."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.api.audit.schemas import AuditListArgsSchema, AuditPageSchema
from app.api.schemas import fetch_page
from app.auth import Permission, requires
from app.services import audit

blp = Blueprint("audit", __name__, url_prefix="/audit",
                description="The audit log: every mutating call and every denied call.")


@blp.route("")
class AuditLog(MethodView):
    @requires(Permission.READ_GOVERNANCE)
    @blp.page(AuditListArgsSchema, AuditPageSchema)
    def get(self, args):
        """The tenant's audit records, newest first."""
        return fetch_page(args, audit.list_records)
