"""`echo`: fails retryably on its first `fail_times` attempts, then logs and returns the message."""

from __future__ import annotations

from marshmallow import fields, validate

from config.catalog import JobType, PayloadSchema
from tasks.errors import RetryableJobError


class EchoPayload(PayloadSchema):
    message = fields.String(required=True, validate=validate.Length(max=4096))
    fail_times = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100))


JOB_TYPE = JobType(
    name="echo",
    description="Smoke test: fails retryably on its first `fail_times` attempts, "
    "then logs and returns the message.",
    payload_schema=EchoPayload,
    handler=f"{__name__}:run",
    max_retries=3,
    soft_time_limit=30,
    time_limit=60,
)


def run(ctx, payload: dict) -> dict:
    """Return `{"message": ...}` once `fail_times` attempts have failed."""
    if ctx.attempt <= payload["fail_times"]:
        raise RetryableJobError(f"planned failure {ctx.attempt} of {payload['fail_times']}")
    ctx.log(payload["message"])
    return {"message": payload["message"]}
