"""Job request and response schemas."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api.artifacts.schemas import ArtifactRefSchema
from app.api.context import current_principal
from app.api.schemas import NAME, DerivedList, PageArgsSchema, Schema, page_schema
from app.models.jobs import JobState
from app.services import artifacts, jobs


class JobSubmitSchema(Schema):
    """Body of `POST /jobs`."""

    job_type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    payload = fields.Dict(load_default=dict)
    project = fields.String(required=True, validate=NAME)
    priority = fields.Integer(load_default=5, validate=validate.Range(min=0, max=9),
                              metadata={"description": "0-9, 9 runs first"})


class TransitionSchema(Schema):
    status = fields.String()
    attempt = fields.Integer()
    at = fields.DateTime()
    detail = fields.String(allow_none=True)


def produced(job) -> list:
    """The artifacts `job` produced that the caller may read, oldest first.

    A job never claimed has produced nothing: a submit pays no extra query.
    """
    return artifacts.job_artifacts(current_principal(), job.id) if job.attempts else []


class JobSchema(Schema):
    """A job as the API shows it: its columns, its timeline and what it produced."""

    id = fields.String()
    job_type = fields.String()
    status = fields.String()
    tenant = fields.String()
    project = fields.String()
    actor = fields.String()
    payload = fields.Dict()
    priority = fields.Integer()
    progress = fields.Float()
    current_step = fields.String(allow_none=True)
    attempts = fields.Integer()
    max_retries = fields.Integer()
    cancel_requested = fields.Boolean()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    error = fields.Dict(allow_none=True)
    timeline = DerivedList(fields.Nested(TransitionSchema), derive=jobs.timeline)
    artifacts = DerivedList(fields.Nested(ArtifactRefSchema), derive=produced)


class JobSummarySchema(JobSchema):
    """A job in a list: everything but the timeline and the artifacts."""

    class Meta:
        exclude = ("timeline", "artifacts")


JobPageSchema = page_schema(JobSummarySchema, "JobPage")


class JobListArgsSchema(PageArgsSchema):
    """Filters of `GET /jobs`."""

    status = fields.String(validate=validate.OneOf(tuple(JobState)))
    job_type = fields.String()
    project = fields.String()
    actor = fields.String()
    created_after = fields.AwareDateTime(default_timezone=None)
    created_before = fields.AwareDateTime(default_timezone=None)


class LogArgsSchema(Schema):
    """Query of `GET /jobs/{id}/logs`."""

    since = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10000))
    follow = fields.Boolean(load_default=False)


class ResultSchema(Schema):
    """Body of `GET /jobs/{id}/result`."""

    id = fields.String()
    status = fields.String()
    result = fields.Raw(allow_none=True)
