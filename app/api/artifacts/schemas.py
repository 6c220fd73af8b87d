"""Artifact request and response schemas."""

from __future__ import annotations

import base64
import binascii
import re

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.schemas import BOUNDED_BY, NAME, DerivedBoolean, PageArgsSchema, Schema, page_schema

LABEL = validate.Regexp(re.compile(r"^[^\x00-\x1f\x7f]{1,256}$"),
                        error="1-256 characters, no control characters")
TYPE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._/+-]{0,63}$",
                       error="letters, digits, '.', '_', '/', '+' and '-'; at most 64")
CONTENT_TYPE = validate.Regexp(r"^[\w.+-]+/[\w.+-]+(;[ \w.+=\"-]*)*$",
                               error="a media type such as text/plain")


class Base64(fields.String):
    """Bytes sent as standard base64 text."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError("not valid base64") from exc


class ArtifactWriteSchema(Schema):
    """Fields of `PUT /artifacts/{id}`: metadata and, optionally, new content."""

    name = fields.String(validate=LABEL, metadata={"description": "a label, never a path"})
    type = fields.String(validate=TYPE)
    metadata = fields.Dict(keys=fields.String(validate=validate.Length(max=256)))
    project = fields.String(validate=NAME, allow_none=True)
    content = Base64(metadata={"description": "the bytes, base64 (bounded by the body limit)",
                               BOUNDED_BY: "TASKPLANE_MAX_CONTENT_LENGTH"})
    content_type = fields.String(validate=[CONTENT_TYPE, validate.Length(max=256)])
    expires_at = fields.AwareDateTime(default_timezone=None, allow_none=True)


    @validates_schema
    def _not_empty(self, data, **_kwargs):
        if not data:
            raise ValidationError("name at least one field to change", "_schema")


class ArtifactCreateSchema(ArtifactWriteSchema):
    """Body of `POST /artifacts`."""

    name = fields.String(required=True, validate=LABEL)
    type = fields.String(required=True, validate=TYPE)


class ArtifactSchema(Schema):
    """An artifact as the API shows it; `manifest` is the id of its current version."""

    id = fields.String()
    name = fields.String()
    type = fields.String()
    metadata = fields.Dict(attribute="meta")
    content_type = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    digest = fields.String(allow_none=True, metadata={"description": "sha256:<hex>"})
    version = fields.Integer()
    manifest = fields.String(attribute="manifest_id", allow_none=True)
    has_content = DerivedBoolean(derive=lambda artifact: artifact.manifest_id is not None)
    tenant = fields.String()
    project = fields.String(allow_none=True)
    job_id = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)


class ArtifactRefSchema(ArtifactSchema):
    """An artifact a job produced, as listed in the job (`GET /jobs/{id}/artifacts` has all)."""

    class Meta:
        fields = ("id", "name", "type", "size", "digest", "version")


ArtifactPageSchema = page_schema(ArtifactSchema, "ArtifactPage")


class ArtifactListArgsSchema(PageArgsSchema):
    """Filters of `GET /artifacts`."""

    type = fields.String()
    name = fields.String()
    project = fields.String()
    job_id = fields.String()


class ManifestSchema(Schema):
    """One content version of an artifact."""

    id = fields.String()
    artifact_id = fields.String()
    version = fields.Integer()
    digest = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    storage_key = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    reason = fields.String()


class ManifestListSchema(Schema):
    items = fields.List(fields.Nested(ManifestSchema))


class DownloadArgsSchema(Schema):
    """Query of `GET /artifacts/{id}/download`."""

    version = fields.Integer(validate=validate.Range(min=1))


class DownloadUrlArgsSchema(Schema):
    """Body of `POST /artifacts/{id}/download-url`."""

    version = fields.Integer(validate=validate.Range(min=1))
    expires_in = fields.Integer(
        validate=validate.Range(min=1),
        metadata={"description": "seconds the link stays valid (default "
                  "TASKPLANE_DOWNLOAD_URL_SECONDS, at most TASKPLANE_DOWNLOAD_URL_SECONDS_MAX)"})


class DownloadUrlSchema(Schema):
    url = fields.String()
    expires_at = fields.DateTime()


class ArtifactListSchema(Schema):
    items = fields.List(fields.Nested(ArtifactSchema))
