"""The shapes the API answers with, as `TypedDict`s: plain dicts at run time, typed for checkers.

Times are ISO 8601 strings, as served. They follow the API's response schemas; a field the
server adds later is simply there, one it drops is absent.
"""

from __future__ import annotations

from typing import Any, Generic, TypedDict, TypeVar

Item = TypeVar("Item")


class Page(TypedDict, Generic[Item]):
    """One page of a list: its items and the cursor of the next (None on the last)."""

    items: list[Item]
    next_cursor: str | None


class Transition(TypedDict):
    status: str
    attempt: int
    at: str
    detail: str | None


class ArtifactRef(TypedDict):
    id: str
    name: str
    type: str
    size: int | None
    digest: str | None
    version: int


class JobSummary(TypedDict):
    """A job as lists show it."""

    id: str
    job_type: str
    status: str
    tenant: str
    project: str
    actor: str
    payload: dict[str, Any]
    priority: int
    progress: float
    current_step: str | None
    attempts: int
    max_retries: int
    cancel_requested: bool
    created_at: str
    started_at: str | None
    completed_at: str | None
    error: dict[str, Any] | None


class Job(JobSummary):
    """One job with its timeline and the artifacts it produced."""

    timeline: list[Transition]
    artifacts: list[ArtifactRef]


class LogLine(TypedDict, total=False):
    """One log line of a job; `fields` holds a structured line's other fields."""

    id: int
    at: str
    attempt: int
    stream: str
    level: str
    message: str
    fields: dict[str, Any]


class Artifact(TypedDict):
    id: str
    name: str
    type: str
    metadata: dict[str, Any]
    content_type: str | None
    size: int | None
    digest: str | None
    version: int
    manifest: str | None
    has_content: bool
    tenant: str
    project: str | None
    job_id: str | None
    created_by: str
    created_at: str
    updated_at: str
    expires_at: str | None


class DownloadUrl(TypedDict):
    url: str
    expires_at: str


class JobType(TypedDict, total=False):
    name: str
    description: str
    kind: str
    queue: str
    payload_schema: dict[str, Any]
    retry_policy: dict[str, Any]
    time_limits: dict[str, Any]
    default_quota: dict[str, Any]
    max_payload_bytes: int
    command: list[str]
    permission: str | None


class Quota(TypedDict):
    job_type: str
    max_active: int
    active: int
    max_per_hour: int
    submitted_last_hour: int
    percent: float


class StorageQuota(TypedDict):
    max_artifact_bytes: int | None
    used_bytes: int | None
    percent: float | None


class Quotas(TypedDict):
    items: list[Quota]
    storage: StorageQuota


class ApiKey(TypedDict):
    id: str
    prefix: str
    name: str
    actor: str
    roles: list[str]
    tenant: str
    created_by: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class ApiKeyCreated(ApiKey):
    key: str


class AuditRecord(TypedDict):
    id: int
    at: str
    request_id: str
    actor: str | None
    roles: list[str]
    tenant: str | None
    reason: str
    action: str
    target: str | None
    outcome: str
    status: int
    method: str
    source: str | None
