"""Operator schemas: slow requests."""

from __future__ import annotations

from marshmallow import fields

from app.api.schemas import Schema, page_schema


class SlowRequestSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    tenant = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    method = fields.String()
    route = fields.String()
    path = fields.String()
    status = fields.Integer()
    duration_ms = fields.Float()
    request_id = fields.String()
    trace_id = fields.String(allow_none=True)


SlowRequestPageSchema = page_schema(SlowRequestSchema, "SlowRequestPage")
