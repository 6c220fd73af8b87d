"""`/job-types`: the catalog, with each payload's JSON Schema."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.api.job_types.schemas import JobTypeListSchema, payload_json_schema
from app.auth import Permission, requires
from app.extensions import runtime

blp = Blueprint("job_types", __name__, url_prefix="/job-types",
                description="The job types this deployment runs.")


def present(job_type) -> dict:
    """One catalog entry as the API shows it."""
    return {
        "name": job_type.name,
        "description": job_type.description,
        "kind": job_type.kind,
        "queue": job_type.queue,
        "payload_schema": payload_json_schema(job_type.payload_schema),
        "retry_policy": {"max_retries": job_type.max_retries,
                         "retry_backoff": job_type.retry_backoff,
                         "retry_backoff_max": job_type.retry_backoff_max,
                         "retry_jitter": job_type.retry_jitter,
                         "retry_on": list(job_type.retry_on)},
        "time_limits": {"soft_seconds": job_type.soft_time_limit,
                        "hard_seconds": job_type.time_limit},
        "default_quota": {"max_active": job_type.max_active,
                          "max_per_hour": job_type.max_per_hour},
        "max_payload_bytes": job_type.max_payload_bytes,
        "command": list(job_type.command),
        "permission": job_type.permission,
    }


@blp.route("")
class JobTypes(MethodView):
    @requires(Permission.READ)
    @blp.response(200, JobTypeListSchema)
    def get(self):
        """Every job type: payload JSON Schema, queue, retry policy, limits, default quota."""
        return {"items": [present(jt) for jt in runtime.catalog.values()]}
