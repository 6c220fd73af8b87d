"""The job-type catalog: every job type Taskplane runs, declared once.

A job type names its payload schema, its handler, its queue, its retry policy, its
time limits and its default quota. Python handlers are named by dotted path
(`package.module:function`) so the API can validate payloads without importing
worker code; command handlers are operator-declared argv templates, loaded from the
TOML file named by `TASKPLANE_COMMAND_TYPES`: an argv element written exactly
`{field}` is replaced by that payload field, every other element is passed as is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import tomllib
from pathlib import Path

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

RETRYABLE = ("tasks.errors.RetryableJobError",)
JOB_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclasses.dataclass(frozen=True)
class JobType:
    """One kind of job: how its payload looks, what runs it and under which limits."""

    name: str
    description: str
    payload_schema: type[ma.Schema]
    handler: str = ""
    command: tuple[str, ...] = ()
    queue: str = "default"
    max_retries: int = 1
    retry_on: tuple[str, ...] = RETRYABLE
    retry_backoff: int = 1
    retry_backoff_max: int = 60
    retry_jitter: bool = True
    soft_time_limit: int = 300
    time_limit: int = 360
    max_active: int = 100
    max_per_hour: int = 1000
    max_payload_bytes: int = 64 * 1024
    # A permission (an `app.auth.Permission` value) needed beyond `submit` to submit,
    # retry or read the result of this type: a report of governance data needs
    # `read_governance`, or any viewer could read it through the job.
    permission: str | None = None

    @functools.cached_property
    def schema(self) -> ma.Schema:
        """One reusable instance of the payload schema (marshmallow schemas are stateless)."""
        return self.payload_schema()

    @property
    def task_name(self) -> str:
        """The Celery task name this job type is dispatched as."""
        return f"taskplane.job.{self.name}"

    @property
    def kind(self) -> str:
        """`python` or `command`."""
        return "command" if self.command else "python"


class PayloadSchema(ma.Schema):
    """Base of every payload schema: unknown fields are refused."""

    class Meta:
        unknown = ma.RAISE


class EchoPayload(PayloadSchema):
    message = fields.String(required=True, validate=validate.Length(max=4096))
    fail_times = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100))


class SleepPayload(PayloadSchema):
    seconds = fields.Float(required=True, validate=validate.Range(min=0, max=3600))


class PlanTarget(PayloadSchema):
    deps = fields.List(fields.String(), load_default=list)
    cost = fields.Float(load_default=1.0, validate=validate.Range(min=0))


class PlanBuildPayload(PayloadSchema):
    targets = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)),
        values=fields.Nested(PlanTarget),
        required=True,
        validate=validate.Length(min=1, max=5000),
    )
    workers = fields.Integer(load_default=2, validate=validate.Range(min=1, max=1024))


class EvalCase(PayloadSchema):
    id = fields.String(required=True)
    expected = fields.String(required=True)
    predicted = fields.String(required=True)


class EvalRunPayload(PayloadSchema):
    cases = fields.List(
        fields.Nested(EvalCase), required=True, validate=validate.Length(min=1, max=100_000)
    )
    threshold = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=1))


class AuditReportPayload(PayloadSchema):
    MAX_WINDOW = dt.timedelta(days=31)

    since = fields.AwareDateTime(required=True, default_timezone=None)
    until = fields.AwareDateTime(required=True, default_timezone=None)

    @validates_schema
    def _window(self, data, **_kwargs):
        if data["until"] <= data["since"]:
            raise ma.ValidationError("must be later than since", field_name="until")
        if data["until"] - data["since"] > self.MAX_WINDOW:
            raise ma.ValidationError(f"the window is at most {self.MAX_WINDOW.days} days",
                                     field_name="until")


class ArtifactBundlePayload(PayloadSchema):
    artifact_ids = fields.List(fields.String(validate=validate.Length(min=1, max=36)),
                               required=True, validate=validate.Length(min=1, max=1000))
    name = fields.String(load_default="bundle.zip",
                         validate=validate.Regexp(r"^[^\x00-\x1f\x7f]{1,256}$"))


BUILTIN = (
    JobType(
        name="echo",
        description="Smoke test: fails retryably on its first `fail_times` attempts, "
        "then logs and returns the message.",
        payload_schema=EchoPayload,
        handler="tasks.builtin.echo:run",
        max_retries=3,
        soft_time_limit=30,
        time_limit=60,
    ),
    JobType(
        name="sleep",
        description="Smoke test: sleeps in small steps, reporting progress and honouring cancel.",
        payload_schema=SleepPayload,
        handler="tasks.builtin.sleep:run",
        max_retries=1,  # never fails on its own; one attempt lost with its worker is retried
        soft_time_limit=3600,
        time_limit=3660,
    ),
    JobType(
        name="plan-build",
        description="Orders a build graph into parallel stages, finds its critical path and "
        "simulates the schedule on `workers` builders; a dependency cycle fails the job.",
        payload_schema=PlanBuildPayload,
        handler="tasks.builtin.plan_build:run",
    ),
    JobType(
        name="eval-run",
        description="Scores predictions against expected labels: accuracy and per-label "
        "precision, recall and F1; fails when accuracy is under `threshold`.",
        payload_schema=EvalRunPayload,
        handler="tasks.builtin.eval_run:run",
    ),
    JobType(
        name="audit-report",
        description="Renders the tenant's audit records and governance events of a window "
        "[since, until) (at most 31 days) as CSV and JSON.",
        payload_schema=AuditReportPayload,
        handler="tasks.builtin.audit_report:run",
        permission="read_governance",
    ),
    JobType(
        name="artifact-bundle",
        description="Zips chosen artifacts of the tenant (their current versions) into a new "
        "artifact of the job; an unknown or foreign artifact id fails the job.",
        payload_schema=ArtifactBundlePayload,
        handler="tasks.builtin.artifact_bundle:run",
        max_retries=1,
        soft_time_limit=1800,
        time_limit=1860,
    ),
)

_FIELD_TYPES = {
    "string": fields.String,
    "integer": fields.Integer,
    "number": fields.Float,
    "boolean": fields.Boolean,
}


def placeholder(argv_part: str) -> str | None:
    """The payload field an argv element stands for (`{name}` as a whole element), if any."""
    match = PLACEHOLDER.fullmatch(argv_part)
    return match.group(1) if match else None


def _command_type(name: str, spec: dict) -> JobType:
    """Build a command job type from one `[types.NAME]` table of the command file."""
    if not JOB_TYPE_NAME.match(name):
        raise ValueError(f"command type {name!r}: name must match {JOB_TYPE_NAME.pattern}")
    argv = spec.pop("argv", None)
    if not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"command type {name!r}: argv must be a non-empty list of strings")
    params = spec.pop("payload", {})
    schema_fields = {}
    for param, decl in params.items():
        field_cls = _FIELD_TYPES[decl.get("type", "string")]
        schema_fields[param] = field_cls(required=decl.get("required", True))
    schema = PayloadSchema.from_dict(schema_fields, name=f"{name}-payload")
    for param in filter(None, (placeholder(part) for part in argv)):
        if param not in schema_fields:
            raise ValueError(f"command type {name!r}: argv uses undeclared {{{param}}}")
    spec.setdefault("description", f"Runs {argv[0]}")
    return JobType(name=name, payload_schema=schema, command=tuple(argv), **spec)


def load_command_types(path: str) -> tuple[JobType, ...]:
    """Read operator-declared command job types from a TOML file."""
    with Path(path).open("rb") as handle:
        data = tomllib.load(handle)
    return tuple(_command_type(name, dict(spec)) for name, spec in data.get("types", {}).items())


def build_catalog(command_types_file: str = "") -> dict[str, JobType]:
    """The catalog: built-in job types plus the command types of the given file."""
    types = BUILTIN + (load_command_types(command_types_file) if command_types_file else ())
    catalog = {}
    for spec in types:
        if spec.name in catalog:
            raise ValueError(f"job type {spec.name!r} declared twice")
        catalog[spec.name] = spec
    return catalog
