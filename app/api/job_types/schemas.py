"""Job-type catalog schemas, and the payload schemas rendered as JSON Schema."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from app.api.schemas import DerivedDict, DerivedNested, Schema


def payload_json_schema(payload_schema) -> dict:
    """The JSON Schema of a marshmallow payload schema, nested schemas inlined."""
    plugin = MarshmallowPlugin(schema_name_resolver=lambda _schema: None)
    APISpec("payload", "1", "3.1.0", plugins=[plugin])
    schema = plugin.converter.schema2jsonschema(payload_schema)
    schema["additionalProperties"] = False
    return schema


class RetryPolicySchema(Schema):
    max_retries = fields.Integer()
    retry_backoff = fields.Integer()
    retry_backoff_max = fields.Integer()
    retry_jitter = fields.Boolean()
    retry_on = fields.List(fields.String())


class TimeLimitsSchema(Schema):
    soft_seconds = fields.Integer(attribute="soft_time_limit")
    hard_seconds = fields.Integer(attribute="time_limit")


class QuotaDefaultsSchema(Schema):
    max_active = fields.Integer()
    max_per_hour = fields.Integer()


def _itself(spec):
    """The job type: its policy groups are read from the catalog entry itself."""
    return spec


class JobTypeSchema(Schema):
    """One catalog entry."""

    name = fields.String()
    description = fields.String()
    kind = fields.String(metadata={"description": "python or command"})
    queue = fields.String()
    payload_schema = DerivedDict(derive=lambda spec: payload_json_schema(spec.payload_schema))
    retry_policy = DerivedNested(RetryPolicySchema, derive=_itself)
    time_limits = DerivedNested(TimeLimitsSchema, derive=_itself)
    default_quota = DerivedNested(QuotaDefaultsSchema, derive=_itself)
    max_payload_bytes = fields.Integer()
    command = fields.List(fields.String())
    permission = fields.String(allow_none=True, metadata={
        "description": "permission needed beyond submit to submit, retry or read its result"})


class JobTypeListSchema(Schema):
    items = fields.List(fields.Nested(JobTypeSchema))
