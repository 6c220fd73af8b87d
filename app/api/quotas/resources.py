"""`/quotas`: the tenant's limits and usage; admins set their own tenant's limits."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.api.context import current_principal
from app.api.quotas.schemas import (
    QuotaListSchema,
    QuotaSchema,
    QuotaUpdateSchema,
    StorageQuotaSchema,
    StorageQuotaUpdateSchema,
)
from app.auth import Permission, requires
from app.services import quotas

blp = Blueprint("quotas", __name__, url_prefix="/quotas",
                description="Per-tenant quotas: active jobs, hourly submissions, storage.")


@blp.route("")
class Quotas(MethodView):
    @requires(Permission.READ)
    @blp.response(200, QuotaListSchema)
    def get(self):
        """The tenant's limits, usage and percent per job type, and its storage."""
        principal = current_principal()
        return {"items": quotas.list_quotas(principal),
                "storage": quotas.tenant_storage(principal)}


@blp.route("/<tenant>")
class TenantStorageQuota(MethodView):
    @requires(Permission.ADMINISTER)
    @blp.arguments(StorageQuotaUpdateSchema)
    @blp.response(200, StorageQuotaSchema)
    def put(self, body, tenant):
        """Set the tenant's artifact storage limit (admin of that tenant)."""
        return quotas.set_storage_limit(current_principal(), tenant,
                                        body["max_artifact_bytes"])


@blp.route("/<tenant>/<job_type>")
class JobTypeQuota(MethodView):
    @requires(Permission.ADMINISTER)
    @blp.arguments(QuotaUpdateSchema)
    @blp.response(200, QuotaSchema)
    def put(self, body, tenant, job_type):
        """Set the tenant's limits of one job type (admin of that tenant)."""
        return quotas.set_limits(current_principal(), tenant, job_type, body)
