"""`Client`: one identity talking to one Taskplane API."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from taskplane_client.errors import ApiError, WaitTimeout
from taskplane_client.pages import Pages, query
from taskplane_client.types import (
    ApiKey,
    ApiKeyCreated,
    Artifact,
    AuditRecord,
    DownloadUrl,
    Job,
    JobSummary,
    JobType,
    LogLine,
    Quota,
    Quotas,
)

TERMINAL = frozenset({"completed", "failed", "cancelled"})  # the states a job ends in
NDJSON = "application/x-ndjson"
CHUNK = 1024 * 1024  # bytes per read of a download
SAFE_METHODS = frozenset({"GET", "HEAD"})  # sent again after a drop; other calls say so
BACKOFF_SECONDS, BACKOFF_MAX_SECONDS = 0.25, 5.0

logger = logging.getLogger("taskplane_client")


def dropped_before_answer(exc: requests.RequestException) -> bool:
    """Whether `exc` means no answer came at all: refused, reset or closed before the status.

    A read timeout is not one: the server may still be working on the request.
    """
    return isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout)


class Client:
    """Talks to one Taskplane API as one identity (header or bearer credentials).

    Every method raises `ApiError` for an error answer; list methods return `Pages`,
    which follow the cursor as they are iterated. A read, a submit and a cancel whose
    connection dropped before any answer came (the server restarted, an idle keep-alive
    connection closed under it) are sent again up to `retries` times, with backoff; a
    submit always carries an `Idempotency-Key`, so sending it again never makes a
    second job.
    """

    def __init__(self, url: str, *, actor: str | None = None, roles: str | None = None,
                 tenant: str | None = None, token: str | None = None, reason: str | None = None,
                 timeout: float = 30.0, retries: int = 6):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        for header, value in (("X-Actor", actor), ("X-Roles", roles), ("X-Tenant", tenant),
                              ("X-Reason", reason)):
            if value:
                self.session.headers[header] = value

    def _call(self, method: str, path: str, *, again: bool | None = None,
              **kwargs) -> requests.Response:
        """Send one request; `again`: whether it may be sent again after a drop (default:
        GET and HEAD only)."""
        kwargs.setdefault("timeout", self.timeout)
        again = method in SAFE_METHODS if again is None else again
        attempt = 0
        while True:
            try:
                response = self.session.request(method, self.url + path, **kwargs)
                break
            except requests.RequestException as exc:
                if not again or attempt >= self.retries or not dropped_before_answer(exc):
                    raise
                attempt += 1
                pause = min(BACKOFF_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS)
                logger.warning("%s %s: no answer (%s); sending it again in %.2fs (%d of %d)",
                               method, path, type(exc).__name__, pause, attempt, self.retries)
                time.sleep(pause)
        if response.status_code >= 400:
            with response:
                error = ApiError.from_response(response)
            error.resent = attempt > 0
            raise error
        return response

    def _list(self, path: str, page_size: int | None, filters: dict[str, Any]) -> Pages:
        params = query({**filters, "limit": page_size})
        return Pages(lambda args: self._call("GET", path, params=args).json(), params)

    # -- jobs ------------------------------------------------------------------------------

    def submit(self, job_type: str, payload: dict, project: str, priority: int = 5,
               idempotency_key: str | None = None, wait: int | None = None) -> Job:
        """Submit a job; returns it (status `queued`, or ended when `wait` seconds sufficed).

        Without an `idempotency_key` a fresh one is sent, so that a submit sent again
        after a dropped connection answers the job it made, never a second one.
        """
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        if wait:
            headers["Prefer"] = f"wait={wait}"
        body = {"job_type": job_type, "payload": payload, "project": project,
                "priority": priority}
        return self._call("POST", "/jobs", json=body, headers=headers, again=True,
                          timeout=self.timeout + (wait or 0)).json()

    def job(self, job_id: str) -> Job:
        """One job with its timeline."""
        return self._call("GET", f"/jobs/{job_id}").json()

    def jobs(self, *, status: str | None = None, job_type: str | None = None,
             project: str | None = None, actor: str | None = None,
             created_after: dt.datetime | str | None = None,
             created_before: dt.datetime | str | None = None,
             page_size: int | None = None) -> Pages[JobSummary]:
        """The tenant's jobs matching the filters, newest first."""
        return self._list("/jobs", page_size, {
            "status": status, "job_type": job_type, "project": project, "actor": actor,
            "created_after": created_after, "created_before": created_before})

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job.

        Sent again after a dropped connection, a cancel the first sending already made
        answers the cancelled job, not 409.
        """
        try:
            return self._call("POST", f"/jobs/{job_id}/cancel", again=True).json()
        except ApiError as exc:
            if exc.resent and exc.status == 409 and exc.details.get("status") == "cancelled":
                return self.job(job_id)
            raise

    def retry(self, job_id: str) -> Job:
        """Re-run a failed or cancelled job."""
        return self._call("POST", f"/jobs/{job_id}/retry").json()

    def result(self, job_id: str) -> Any:
        """The result of a completed job."""
        return self._call("GET", f"/jobs/{job_id}/result").json()["result"]

    def logs(self, job_id: str, since: int = 0) -> str:
        """A job's log lines after cursor `since`, as text."""
        return self._call("GET", f"/jobs/{job_id}/logs", params={"since": since}).text

    def follow(self, job_id: str, since: int = 0, retries: int = 5) -> Iterator[LogLine]:
        """A job's log lines after cursor `since` as they are written, until the job ends.

        A stream the server ends (its maximum lifetime) or that drops is resumed from the
        last line's cursor, so no line is lost or repeated; `retries` failed reconnects in
        a row (or any error answer but 503) give up with the last error.
        """
        cursor, failures, ended = since, 0, False
        while True:
            try:
                response = self._call("GET", f"/jobs/{job_id}/logs", stream=True,
                                      params={"since": cursor, "follow": "true"},
                                      headers={"Accept": NDJSON})
                with response:
                    for line in response.iter_lines(decode_unicode=True):
                        if line:  # an empty line is the server's keep-alive
                            entry = json.loads(line)
                            cursor, failures = entry["id"], 0
                            yield entry
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError, ApiError) as exc:
                failures += 1
                if failures > retries or (isinstance(exc, ApiError) and exc.status != 503):
                    raise
                time.sleep(min(2 ** failures, 30) * 0.5)
                continue
            if ended:
                return
            # A stream that ended at its lifetime just as the job ended may have missed the
            # last lines: one more pass drains them and ends at once.
            ended = self.job(job_id)["status"] in TERMINAL

    def wait(self, job_id: str, *, timeout: float | None = None, interval: float = 0.5,
             on_update: Callable[[Job], object] | None = None) -> Job:
        """Poll until the job ends and return it; `on_update(job)` is called on every poll.

        With `timeout` (seconds), raise `WaitTimeout` (a `TimeoutError`) once it has passed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_update:
                on_update(job)
            if job["status"] in TERMINAL:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(job, timeout)
            time.sleep(interval if deadline is None
                       else max(0.0, min(interval, deadline - time.monotonic())))

    def job_types(self) -> list[JobType]:
        """The job-type catalog."""
        return self._call("GET", "/job-types").json()["items"]

    # -- administration --------------------------------------------------------------------

    def audit(self, *, actor: str | None = None, action: str | None = None,
              outcome: str | None = None, since: dt.datetime | str | None = None,
              until: dt.datetime | str | None = None,
              page_size: int | None = None) -> Pages[AuditRecord]:
        """The tenant's audit records, newest first (`since` inclusive, `until` exclusive)."""
        return self._list("/audit", page_size, {
            "actor": actor, "action": action, "outcome": outcome, "since": since,
            "until": until})

    def create_api_key(self, name: str, roles: list[str], actor: str | None = None,
                       expires_at: str | None = None) -> ApiKeyCreated:
        """Create an API key (admin); the answer's `key` is shown this once."""
        body: dict[str, Any] = {"name": name, "roles": roles}
        if actor:
            body["actor"] = actor
        if expires_at:
            body["expires_at"] = expires_at
        return self._call("POST", "/api-keys", json=body).json()

    def api_keys(self, *, actor: str | None = None, include_revoked: bool | None = None,
                 page_size: int | None = None) -> Pages[ApiKey]:
        """The tenant's API keys (never the keys themselves)."""
        return self._list("/api-keys", page_size,
                          {"actor": actor, "include_revoked": include_revoked})

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key; it is refused from its next request on."""
        self._call("DELETE", f"/api-keys/{key_id}")

    def quotas(self) -> Quotas:
        """The tenant's limits and usage per job type, and its storage limit."""
        return self._call("GET", "/quotas").json()

    def set_quota(self, tenant: str, job_type: str, **limits: int | None) -> Quota:
        """Set `max_active` and/or `max_per_hour` (None: the catalog's default); admin only."""
        return self._call("PUT", f"/quotas/{tenant}/{job_type}", json=limits).json()

    # -- artifacts -------------------------------------------------------------------------

    def create_artifact(self, name: str, type: str, *, project: str | None = None,
                        metadata: dict | None = None) -> Artifact:
        """Create an artifact without content (upload it with `upload_artifact`)."""
        body: dict[str, Any] = {"name": name, "type": type, "metadata": metadata or {}}
        if project:
            body["project"] = project
        return self._call("POST", "/artifacts", json=body).json()

    def upload_artifact(self, artifact_id: str, path: str | Path,
                        content_type: str = "application/octet-stream",
                        etag: str | None = None) -> Artifact:
        """Stream the file at `path` as the artifact's new content (a new version)."""
        headers = {"Content-Type": content_type}
        if etag:
            headers["If-Match"] = etag
        with Path(path).open("rb") as body:
            return self._call("PUT", f"/artifacts/{artifact_id}/content", data=body,
                              headers=headers).json()

    def push(self, path: str | Path, *, name: str | None = None, type: str = "file",
             project: str | None = None, metadata: dict | None = None,
             content_type: str = "application/octet-stream") -> Artifact:
        """Create an artifact from a local file (named after it unless `name` is given)."""
        created = self.create_artifact(name or Path(path).name, type, project=project,
                                       metadata=metadata)
        return self.upload_artifact(created["id"], path, content_type)

    def artifact(self, artifact_id: str) -> Artifact:
        """One artifact (its current manifest)."""
        return self._call("GET", f"/artifacts/{artifact_id}").json()

    def artifacts(self, *, type: str | None = None, name: str | None = None,
                  project: str | None = None, job_id: str | None = None,
                  page_size: int | None = None) -> Pages[Artifact]:
        """The tenant's artifacts matching the filters, newest first."""
        return self._list("/artifacts", page_size,
                          {"type": type, "name": name, "project": project, "job_id": job_id})

    def pull(self, artifact_id: str, target: str | Path, version: int | None = None) -> int:
        """Stream the artifact's bytes (current or `version`) into `target`; bytes written."""
        params = {"version": version} if version else {}
        response = self._call("GET", f"/artifacts/{artifact_id}/download", params=params,
                              stream=True)
        written = 0
        with response, Path(target).open("wb") as handle:
            for chunk in response.iter_content(chunk_size=CHUNK):
                handle.write(chunk)
                written += len(chunk)
        return written

    def download_url(self, artifact_id: str, expires_in: int = 3600) -> DownloadUrl:
        """A signed, time-limited download link `{url, expires_at}` (no credentials needed)."""
        return self._call("POST", f"/artifacts/{artifact_id}/download-url",
                          json={"expires_in": expires_in}).json()
