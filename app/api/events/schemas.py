"""Governance event schemas."""

from __future__ import annotations

from marshmallow import fields

from app.api.schemas import PageArgsSchema, Schema, page_schema


class EventSchema(Schema):
    id = fields.Integer()
    type = fields.String()
    at = fields.DateTime()
    tenant = fields.String()
    project = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    job_id = fields.String(allow_none=True)
    job_type = fields.String(allow_none=True)
    attempt = fields.Integer(allow_none=True)
    max_retries = fields.Integer(allow_none=True)
    trace_id = fields.String(allow_none=True)
    data = fields.Dict()


EventPageSchema = page_schema(EventSchema, "EventPage")


class EventListArgsSchema(PageArgsSchema):
    type = fields.String()
    job_id = fields.String()
    since = fields.AwareDateTime(default_timezone=None)
