"""`/jobs/{id}/artifacts`: what a job produced, as a list or as one zip."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from app.api import Blueprint
from app.api.artifacts import transfers
from app.api.artifacts.schemas import ArtifactListSchema
from app.api.context import current_principal
from app.api.schemas import binary_body
from app.auth import Permission, requires
from app.services import artifact_bundles, artifacts, jobs

blp = Blueprint("job_artifacts", __name__, url_prefix="/jobs",
                description="The artifacts a job produced.")


@blp.route("/<job_id>/artifacts")
class JobArtifacts(MethodView):
    @requires(Permission.READ)
    @blp.response(200, ArtifactListSchema)
    def get(self, job_id):
        """The artifacts the job produced, oldest first."""
        job = jobs.get(job_id)
        return {"items": artifacts.job_artifacts(current_principal(), job.id)}


@blp.route("/<job_id>/artifacts.zip")
class JobArtifactsZip(MethodView):
    @requires(Permission.READ)
    @blp.doc(responses={"200": binary_body("The job's artifacts, one zip entry each",
                                           "application/zip")})
    def get(self, job_id):
        """The job's artifacts as one zip, streamed."""
        job = jobs.get(job_id)
        body = artifact_bundles.zip_stream(artifacts.job_artifacts(current_principal(), job.id))
        return transfers.download(request.environ, lambda hold: Response(
            hold(body), mimetype="application/zip", direct_passthrough=True, headers={
                "Content-Disposition": f'attachment; filename="job-{job.id}-artifacts.zip"'}))
