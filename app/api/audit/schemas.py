"""Audit log schemas."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.schemas import PageArgsSchema, Schema, page_schema
from app.services.audit import OUTCOMES


class AuditRecordSchema(Schema):
    """One audit record as `GET /audit` shows it."""

    id = fields.Integer()
    at = fields.DateTime()
    request_id = fields.String()
    actor = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    tenant = fields.String(allow_none=True)
    reason = fields.String()
    action = fields.String(metadata={"description": "e.g. jobs.submit, jobs.cancel"})
    target = fields.String(allow_none=True, metadata={"description": "the object's id"})
    outcome = fields.String(metadata={"description": " | ".join(OUTCOMES)})
    status = fields.Integer(metadata={"description": "the HTTP status answered"})
    method = fields.String()
    source = fields.String(allow_none=True, metadata={"description": "caller's address"})


AuditPageSchema = page_schema(AuditRecordSchema, "AuditPage")


class AuditListArgsSchema(PageArgsSchema):
    """Filters of `GET /audit`: `since` inclusive, `until` exclusive."""

    actor = fields.String(validate=validate.Length(max=256))
    action = fields.String(validate=validate.Length(max=64))
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    since = fields.AwareDateTime(default_timezone=None)
    until = fields.AwareDateTime(default_timezone=None)

    @validates_schema
    def _window(self, data, **_kwargs):
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise ValidationError("must be later than since", field_name="until")
