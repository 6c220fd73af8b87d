"""`/artifacts`: create, list, show, update, upload, delete, download, signed links."""

from __future__ import annotations

from flask import request, url_for
from flask.views import MethodView

from app.api import Blueprint
from app.api.artifacts import downloads, transfers, uploads
from app.api.artifacts.schemas import (
    ArtifactCreateSchema,
    ArtifactListArgsSchema,
    ArtifactPageSchema,
    ArtifactSchema,
    ArtifactWriteSchema,
    DownloadArgsSchema,
    DownloadUrlArgsSchema,
    DownloadUrlSchema,
    ManifestListSchema,
)
from app.api.context import current_principal
from app.api.schemas import binary_body, fetch_page
from app.auth import Permission, requires
from app.extensions import runtime
from app.services import artifact_links, artifacts

blp = Blueprint("artifacts", __name__, url_prefix="/artifacts",
                description="Publish, version and fetch artifacts.")

# Bytes go out with the type they were stored with (the manifest's `content_type`).
BYTES = binary_body("The bytes; `Content-Type` is the `content_type` they were stored with",
                    "*/*")


def _answer(artifact, status: int = 200, **headers):
    """The artifact, with its `ETag` (what `If-Match` names when updating)."""
    return artifact, status, {"ETag": f'"{artifacts.etag(artifact)}"', **headers}


def _if_match() -> tuple[str, ...] | None:
    if "If-Match" not in request.headers:
        return None
    if request.if_match.star_tag:
        return ("*",)
    return tuple(request.if_match.as_set())


@blp.route("")
class Artifacts(MethodView):
    @requires(Permission.READ)
    @blp.page(ArtifactListArgsSchema, ArtifactPageSchema)
    def get(self, args):
        """List the tenant's artifacts, newest first."""
        return fetch_page(args, artifacts.list_artifacts, current_principal())

    @requires(Permission.WRITE_ARTIFACTS)
    @blp.arguments(ArtifactCreateSchema)
    @blp.response(201, ArtifactSchema)
    def post(self, body):
        """Create an artifact, with inline base64 `content` or none (upload it later)."""
        artifact = artifacts.create(current_principal(), **body)
        return _answer(artifact, 201,
                       Location=url_for("artifacts.Artifact", artifact_id=artifact.id))


@blp.route("/<artifact_id>")
class Artifact(MethodView):
    @requires(Permission.READ)
    @blp.response(200, ArtifactSchema)
    def get(self, artifact_id):
        """Show one artifact; its `ETag` is what `If-Match` names when updating."""
        return _answer(artifacts.get(current_principal(), artifact_id))

    @requires(Permission.WRITE_ARTIFACTS)
    @blp.arguments(ArtifactWriteSchema)
    @blp.response(200, ArtifactSchema)
    def put(self, body, artifact_id):
        """Update metadata and/or replace content; a stale `If-Match` answers 412."""
        content = body.pop("content", None)
        artifact = artifacts.update_artifact(
            current_principal(), artifact_id, if_match=_if_match(),
            chunks=None if content is None else [content],
            hint=None if content is None else len(content), **body)
        return _answer(artifact)

    @requires(Permission.WRITE_ARTIFACTS)
    @blp.response(204)
    def delete(self, artifact_id):
        """Delete the artifact and its versions."""
        artifacts.delete_artifact(current_principal(), artifact_id)


@blp.route("/<artifact_id>/content")
class ArtifactContent(MethodView):
    @requires(Permission.WRITE_ARTIFACTS)
    @blp.doc(requestBody=binary_body("The new content, streamed (none: empty content)"))
    @blp.response(200, ArtifactSchema)
    def put(self, artifact_id):
        """Upload new content as the raw body, streamed to the store (up to the size limit)."""
        request.max_content_length = runtime.settings.artifact_max_bytes
        content_type = request.mimetype or None
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            content_type = None  # what clients send by default is not the artifact's type
        with transfers.upload(request.environ):
            artifact = artifacts.update_artifact(
                current_principal(), artifact_id, if_match=_if_match(),
                chunks=uploads.request_chunks(request), hint=request.content_length,
                content_type=content_type)
        return _answer(artifact)


@blp.route("/<artifact_id>/versions")
class ArtifactVersions(MethodView):
    @requires(Permission.READ)
    @blp.response(200, ManifestListSchema)
    def get(self, artifact_id):
        """Every stored content version (manifest), newest first."""
        return {"items": artifacts.versions(current_principal(), artifact_id)}


@blp.route("/<artifact_id>/download")
class ArtifactDownload(MethodView):
    @requires(Permission.READ)
    @blp.arguments(DownloadArgsSchema, location="query")
    @blp.doc(responses={"200": BYTES, "206": BYTES, "304": {"description": "Not modified"}})
    def get(self, args, artifact_id):
        """The bytes of the current version (or `?version=N`); Range and ETag honoured."""
        artifact = artifacts.get(current_principal(), artifact_id)
        return downloads.content_response(artifact,
                                          artifacts.manifest(artifact, args.get("version")))


@blp.route("/<artifact_id>/download-url")
class ArtifactDownloadUrl(MethodView):
    @requires(Permission.READ)
    @blp.arguments(DownloadUrlArgsSchema, required=False)
    @blp.response(201, DownloadUrlSchema)
    def post(self, args, artifact_id):
        """A time-limited signed link to the bytes; using it needs no credentials."""
        token, expires_at = artifact_links.sign(current_principal(), artifact_id,
                                                args.get("version"), args.get("expires_in"))
        return {"url": url_for("artifacts.SignedDownload", token=token, _external=True),
                "expires_at": expires_at}


@blp.route("/signed/<token>")
class SignedDownload(MethodView):
    @blp.doc(security=[], responses={"200": BYTES, "206": BYTES})
    def get(self, token):
        """Download through a signed link (no credentials); 403 when tampered or expired."""
        return downloads.content_response(*artifact_links.resolve(token))
