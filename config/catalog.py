"""The job-type catalog: every job type Taskplane runs, declared once.

A job type names its payload schema, its handler, its queue, its retry policy, its
time limits and its default quota. Built-in types are declared each in its own module
under `tasks.builtin`, beside its payload schema and its handler (named by dotted path,
`package.module:function`); command handlers are operator-declared argv templates,
loaded from the TOML file named by `TASKPLANE_COMMAND_TYPES`: an argv element written
exactly `{field}` is replaced by that payload field, every other element is passed as is.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
import tomllib
from pathlib import Path

import marshmallow as ma
from marshmallow import fields

RETRYABLE = ("tasks.errors.RetryableJobError",)
# Named, not imported: the built-in modules import this one for JobType and PayloadSchema.
BUILTIN_PACKAGE = "tasks.builtin"
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


def builtin_types() -> tuple[JobType, ...]:
    """The built-in job types, as their modules under `tasks.builtin` declare them."""
    return importlib.import_module(BUILTIN_PACKAGE).JOB_TYPES


def build_catalog(command_types_file: str = "") -> dict[str, JobType]:
    """The catalog: built-in job types plus the command types of the given file."""
    commands = load_command_types(command_types_file) if command_types_file else ()
    types = builtin_types() + commands
    catalog = {}
    for spec in types:
        if spec.name in catalog:
            raise ValueError(f"job type {spec.name!r} declared twice")
        catalog[spec.name] = spec
    return catalog
