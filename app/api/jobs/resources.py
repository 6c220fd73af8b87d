"""`/jobs`: submit, list, show, logs, events, result, cancel and retry."""

from __future__ import annotations

import re

from flask import request, url_for
from flask.views import MethodView

from app.api import Blueprint
from app.api.audit.hook import record_with
from app.api.context import current_principal
from app.api.jobs import streams
from app.api.jobs.schemas import (
    JobListArgsSchema,
    JobPageSchema,
    JobSchema,
    JobSubmitSchema,
    LogArgsSchema,
    ResultSchema,
)
from app.api.schemas import ErrorEnvelopeSchema, fetch_page
from app.api.telemetry import request_trace_id
from app.auth import Permission, requires
from app.errors import ValidationFailed
from app.models.jobs import TERMINAL, JobState
from app.services import job_streams, jobs

blp = Blueprint("jobs", __name__, url_prefix="/jobs",
                description="Submit jobs, watch them run, read their logs and results.")

MAX_IDEMPOTENCY_KEY = 256
MAX_WAIT = 60
PREFER_WAIT = re.compile(r"^\s*wait\s*=\s*\"?([^\s\";]*)\"?\s*$", re.IGNORECASE)
PREFER = {"in": "header", "name": "Prefer", "required": False, "schema": {"type": "string"},
          "description": f"`wait=N` (RFC 7240, N from 1 to {MAX_WAIT}): answer 200 with the "
                         "finished job, and `Preference-Applied: wait=N`, when it ends within "
                         "N seconds; else 202 as without it (also at once when the process "
                         "has no stream slot free). Other preferences are ignored."}
OVER_QUOTA = {"schema": ErrorEnvelopeSchema,
              "description": "`quota_exceeded` (the tenant's quota of the job type) or "
                             "`rate_limited` (the caller's request rate)",
              "headers": {"Retry-After": {"description": "seconds to wait",
                                          "schema": {"type": "integer"}}}}
STREAMS_FULL = {"schema": ErrorEnvelopeSchema,
                "description": "`unavailable`: this process already serves its most streams",
                "headers": {"Retry-After": {"description": "seconds to wait",
                                            "schema": {"type": "integer"}}}}
LAST_EVENT_ID = {"in": "header", "name": "Last-Event-ID", "required": False,
                 "description": "the `id` of the last event received (what `EventSource` "
                                "sends when it reconnects): resume after it; wins over `since`",
                 "schema": {"type": "string", "pattern": "^[0-9]{1,10}$",
                            "maxLength": 10}}
def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed("Idempotency-Key must be 1-256 characters",
                               details={"Idempotency-Key": ["1-256 characters"]})
    return key


def _preferred_wait() -> int | None:
    """Seconds of `Prefer: wait=N` (RFC 7240), None without it; 422 when N is not 1-60."""
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            if match := PREFER_WAIT.match(preference.split(";")[0]):
                value = match.group(1)
                if not value.isdigit() or not 1 <= int(value) <= MAX_WAIT:
                    raise ValidationFailed(f"Prefer: wait must be 1-{MAX_WAIT} seconds",
                                           details={"Prefer": [f"wait=1..{MAX_WAIT}"]})
                return int(value)
    return None


@blp.route("")
class Jobs(MethodView):
    @requires(Permission.READ)
    @blp.page(JobListArgsSchema, JobPageSchema)
    def get(self, args):
        """List the tenant's jobs, newest first."""
        return fetch_page(args, jobs.list_jobs)

    @requires(Permission.SUBMIT)
    @blp.arguments(JobSubmitSchema)
    @blp.response(202, JobSchema)
    @blp.alt_response(200, schema=JobSchema,
                      description="`Prefer: wait=N` given and the job ended within N seconds",
                      headers={"Preference-Applied": {"schema": {"type": "string"}}})
    @blp.alt_response(429, **OVER_QUOTA)
    @blp.doc(parameters=[PREFER])
    def post(self, body):
        """Submit a job; `Idempotency-Key` makes a repeated submit return the first job.

        With `Prefer: wait=N` the answer waits up to N seconds for the job to end.
        """
        wait = _preferred_wait()
        job, created = jobs.submit(current_principal(), idempotency_key=_idempotency_key(),
                                   trace_id=request_trace_id(), audit=record_with(202), **body)
        headers = {"Location": url_for("jobs.Job", job_id=job.id)}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        if wait:
            job = job_streams.wait_for_end(job, wait)
            if job.status in TERMINAL:
                headers["Preference-Applied"] = f"wait={wait}"
                return job, 200, headers
        return job, 202, headers


@blp.route("/<job_id>")
class Job(MethodView):
    @requires(Permission.READ)
    @blp.response(200, JobSchema)
    def get(self, job_id):
        """Show one job with its timeline."""
        return jobs.get(job_id)

    @requires(Permission.MANAGE_OWN_JOBS)
    @blp.response(202, JobSchema)
    def delete(self, job_id):
        """Cancel the job (same as `POST /jobs/{id}/cancel`)."""
        return jobs.cancel(current_principal(), job_id)


@blp.route("/<job_id>/cancel")
class JobCancel(MethodView):
    @requires(Permission.MANAGE_OWN_JOBS)
    @blp.response(202, JobSchema)
    def post(self, job_id):
        """Cancel a queued job, or stop a running one; 409 when already terminal."""
        return jobs.cancel(current_principal(), job_id)


@blp.route("/<job_id>/retry")
class JobRetry(MethodView):
    @requires(Permission.MANAGE_OWN_JOBS)
    @blp.response(202, JobSchema)
    @blp.alt_response(429, **OVER_QUOTA)
    def post(self, job_id):
        """Run a failed or cancelled job again as a new attempt."""
        return jobs.retry(current_principal(), job_id)


@blp.route("/<job_id>/result")
class JobResult(MethodView):
    @requires(Permission.READ)
    @blp.response(200, ResultSchema)
    def get(self, job_id):
        """The handler's result; 409 until the job has completed."""
        value = jobs.result(current_principal(), job_id)
        return {"id": job_id, "status": JobState.COMPLETED, "result": value}


@blp.route("/<job_id>/logs")
class JobLogs(MethodView):
    @requires(Permission.READ)
    @blp.arguments(LogArgsSchema, location="query")
    @blp.doc(responses={"200": {"description": "Log lines; `X-Next-Cursor` resumes",
                                "content": {"text/plain": {}, streams.NDJSON: {}}}})
    @blp.alt_response(503, **STREAMS_FULL)
    def get(self, args, job_id):
        """Log lines: `since` resumes after a cursor, `follow` streams until the job ends."""
        job = jobs.get(job_id)
        return streams.log_response(job, args["since"], args["limit"], args["follow"],
                                    request.headers.get("Accept", ""))


@blp.route("/<job_id>/events", parameters=[LAST_EVENT_ID])
class JobEvents(MethodView):
    @requires(Permission.READ)
    @blp.arguments(LogArgsSchema(only=("since",)), location="query")
    @blp.doc(responses={"200": {"description": "Server-Sent Events until the job ends",
                                "content": {"text/event-stream": {}}}})
    @blp.alt_response(503, **STREAMS_FULL)
    def get(self, args, job_id):
        """Status, progress and log lines as Server-Sent Events, until the job ends."""
        job = jobs.get(job_id)
        return streams.event_response(job, args["since"], JobSchema().dump)
