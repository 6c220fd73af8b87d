"""`/job-types`: the catalog, with each payload's JSON Schema."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.api.job_types.schemas import JobTypeListSchema
from app.auth import Permission, requires
from app.extensions import runtime

blp = Blueprint("job_types", __name__, url_prefix="/job-types",
                description="The job types this deployment runs.")


@blp.route("")
class JobTypes(MethodView):
    @requires(Permission.READ)
    @blp.response(200, JobTypeListSchema)
    def get(self):
        """Every job type: payload JSON Schema, queue, retry policy, limits, default quota."""
        return {"items": list(runtime.catalog.values())}
