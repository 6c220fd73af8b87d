"""`artifact-bundle`: zips chosen artifacts of the tenant into a new artifact of the job."""

from __future__ import annotations

import tempfile

from marshmallow import fields, validate

from app.errors import NotFound
from app.services import artifact_bundles
from config.catalog import JobType, PayloadSchema
from tasks.errors import JobError


class ArtifactBundlePayload(PayloadSchema):
    artifact_ids = fields.List(fields.String(validate=validate.Length(min=1, max=36)),
                               required=True, validate=validate.Length(min=1, max=1000))
    name = fields.String(load_default="bundle.zip",
                         validate=validate.Regexp(r"^[^\x00-\x1f\x7f]{1,256}$"))


JOB_TYPE = JobType(
    name="artifact-bundle",
    description="Zips chosen artifacts of the tenant (their current versions) into a new "
    "artifact of the job; an unknown or foreign artifact id fails the job.",
    payload_schema=ArtifactBundlePayload,
    handler=f"{__name__}:run",
    max_retries=1,
    soft_time_limit=1800,
    time_limit=1860,
)


def run(ctx, payload: dict) -> dict:
    """Write the zip of the artifacts' current content to a temp file, then store it."""
    try:
        items = artifact_bundles.members(ctx.tenant, payload["artifact_ids"])
    except NotFound as exc:
        raise JobError(f"{exc.message}: {', '.join(exc.details['artifact_ids'])}") from exc
    ctx.log(f"bundling {len(items)} artifacts", count=len(items))
    with tempfile.NamedTemporaryFile(prefix=f"bundle-{ctx.job_id}-", suffix=".zip") as handle:
        for chunk in artifact_bundles.zip_stream(items):
            ctx.check_cancelled()
            handle.write(chunk)
        handle.flush()
        restricted = next((a.read_permission for a in items if a.read_permission), None)
        stored = ctx.add_artifact(payload["name"], handle.name, type="bundle",
                                  content_type="application/zip",  # as restricted as its parts
                                  read_permission=restricted)
    ctx.log("bundle stored", artifact_id=stored["id"], size=stored["size"])
    return {"artifact": stored, "members": [a.id for a in items if a.manifest_id]}
