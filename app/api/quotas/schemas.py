"""Quota request and response schemas."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.schemas import INT64, Schema

LIMIT = validate.Range(min=0, max=1_000_000)


class QuotaSchema(Schema):
    """A tenant's limits and usage of one job type."""

    job_type = fields.String()
    max_active = fields.Integer(metadata={"description": "queued + running + retrying"})
    active = fields.Integer()
    max_per_hour = fields.Integer(metadata={"description": "submissions in a rolling hour"})
    submitted_last_hour = fields.Integer()
    percent = fields.Float(metadata={"description": "the higher of the two usages"})


class StorageQuotaSchema(Schema):
    """A tenant's artifact storage limit (null: unlimited) and usage."""

    max_artifact_bytes = fields.Integer(allow_none=True)
    used_bytes = fields.Integer(allow_none=True)
    percent = fields.Float(allow_none=True)


class QuotaListSchema(Schema):
    """Body of `GET /quotas`."""

    items = fields.List(fields.Nested(QuotaSchema))
    storage = fields.Nested(StorageQuotaSchema)


class QuotaUpdateSchema(Schema):
    """Body of `PUT /quotas/{tenant}/{job_type}`: a field left out stays; null: the default."""

    max_active = fields.Integer(allow_none=True, validate=LIMIT)
    max_per_hour = fields.Integer(allow_none=True, validate=LIMIT)

    @validates_schema
    def _not_empty(self, data, **_kwargs):
        if not data:
            raise ValidationError("set max_active, max_per_hour or both", "_schema")


class StorageQuotaUpdateSchema(Schema):
    """Body of `PUT /quotas/{tenant}`: the storage limit in bytes, 0 unlimited, null default."""

    max_artifact_bytes = fields.Integer(required=True, allow_none=True,
                                        validate=validate.Range(min=0, max=INT64.max))
