"""`taskplane.Client`-style HTTP client for the Taskplane API (used by the `taskplane` command)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import requests

TERMINAL = ("completed", "failed", "cancelled")
NDJSON = "application/x-ndjson"


class ApiError(Exception):
    """An error answer of the API, with its envelope."""

    def __init__(self, status: int, body: dict):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', 'error')}: {error.get('message', body)}")
        self.status = status
        self.code = error.get("code")
        self.details = error.get("details", {})


class Client:
    """Talks to one Taskplane API as one identity (header or bearer credentials)."""

    def __init__(self, url: str, *, actor: str | None = None, roles: str | None = None,
                 tenant: str | None = None, token: str | None = None, reason: str | None = None,
                 timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        for header, value in (("X-Actor", actor), ("X-Roles", roles), ("X-Tenant", tenant),
                              ("X-Reason", reason)):
            if value:
                self.session.headers[header] = value

    def _call(self, method: str, path: str, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, self.url + path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"error": {"message": response.text}}
            raise ApiError(response.status_code, body)
        return response

    def submit(self, job_type: str, payload: dict, project: str, priority: int = 5,
               idempotency_key: str | None = None, wait: int | None = None) -> dict:
        """Submit a job; returns it (status `queued`, or ended when `wait` seconds sufficed)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if wait:
            headers["Prefer"] = f"wait={wait}"
        body = {"job_type": job_type, "payload": payload, "project": project,
                "priority": priority}
        return self._call("POST", "/jobs", json=body, headers=headers,
                          timeout=self.timeout + (wait or 0)).json()

    def job(self, job_id: str) -> dict:
        """One job with its timeline."""
        return self._call("GET", f"/jobs/{job_id}").json()

    def _pages(self, path: str, filters: dict) -> Iterator[dict]:
        """Every item of the list at `path` matching `filters`, following the cursor."""
        params = {k: v for k, v in filters.items() if v is not None}
        while True:
            page = self._call("GET", path, params=params).json()
            yield from page["items"]
            if not page["next_cursor"]:
                return
            params["cursor"] = page["next_cursor"]

    def jobs(self, **filters) -> Iterator[dict]:
        """Every job matching `filters`, following the cursor."""
        return self._pages("/jobs", filters)

    def audit(self, **filters) -> Iterator[dict]:
        """The tenant's audit records matching `filters` (actor, action, outcome, since, until)."""
        return self._pages("/audit", filters)

    def cancel(self, job_id: str) -> dict:
        """Cancel a queued or running job."""
        return self._call("POST", f"/jobs/{job_id}/cancel").json()

    def retry(self, job_id: str) -> dict:
        """Re-run a failed or cancelled job."""
        return self._call("POST", f"/jobs/{job_id}/retry").json()

    def result(self, job_id: str):
        """The result of a completed job."""
        return self._call("GET", f"/jobs/{job_id}/result").json()["result"]

    def create_api_key(self, name: str, roles: list[str], actor: str | None = None,
                       expires_at: str | None = None) -> dict:
        """Create an API key (admin); the answer's `key` is shown this once."""
        body = {"name": name, "roles": roles}
        if actor:
            body["actor"] = actor
        if expires_at:
            body["expires_at"] = expires_at
        return self._call("POST", "/api-keys", json=body).json()

    def api_keys(self, **filters) -> Iterator[dict]:
        """The tenant's API keys (never the keys themselves), following the cursor."""
        return self._pages("/api-keys", filters)

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key; it is refused from its next request on."""
        self._call("DELETE", f"/api-keys/{key_id}")

    def job_types(self) -> list[dict]:
        """The job-type catalog."""
        return self._call("GET", "/job-types").json()["items"]

    def quotas(self) -> dict:
        """The tenant's limits and usage per job type, and its storage limit."""
        return self._call("GET", "/quotas").json()

    def set_quota(self, tenant: str, job_type: str, **limits) -> dict:
        """Set `max_active` and/or `max_per_hour` (None: the catalog's default); admin only."""
        return self._call("PUT", f"/quotas/{tenant}/{job_type}", json=limits).json()

    def logs(self, job_id: str, since: int = 0) -> str:
        """A job's log lines after cursor `since`, as text."""
        return self._call("GET", f"/jobs/{job_id}/logs", params={"since": since}).text

    def follow_logs(self, job_id: str, since: int = 0, retries: int = 5) -> Iterator[str]:
        """Log lines as they are written, until the job ends.

        A stream the server ends (its maximum lifetime) or that drops is resumed from the
        last line's cursor, so no line is lost or repeated; `retries` failed reconnects in
        a row give up with the last error.
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
                            yield f"{entry['at']} {entry['message']}"
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

    def wait(self, job_id: str, interval: float = 0.5, on_update=None) -> dict:
        """Poll until the job ends; `on_update(job)` is called on every poll."""
        while True:
            job = self.job(job_id)
            if on_update:
                on_update(job)
            if job["status"] in TERMINAL:
                return job
            time.sleep(interval)

    # -- artifacts -------------------------------------------------------------------------

    def create_artifact(self, name: str, type: str, *, project: str | None = None,
                        metadata: dict | None = None) -> dict:
        """Create an artifact without content (upload it with `upload_artifact`)."""
        body = {"name": name, "type": type, "metadata": metadata or {}}
        if project:
            body["project"] = project
        return self._call("POST", "/artifacts", json=body).json()

    def upload_artifact(self, artifact_id: str, path: str | Path,
                        content_type: str = "application/octet-stream",
                        etag: str | None = None) -> dict:
        """Stream the file at `path` as the artifact's new content (a new version)."""
        headers = {"Content-Type": content_type}
        if etag:
            headers["If-Match"] = etag
        with Path(path).open("rb") as body:
            return self._call("PUT", f"/artifacts/{artifact_id}/content", data=body,
                              headers=headers).json()

    def push(self, path: str | Path, *, name: str | None = None, type: str = "file",
             project: str | None = None, metadata: dict | None = None,
             content_type: str = "application/octet-stream") -> dict:
        """Create an artifact from a local file (named after it unless `name` is given)."""
        created = self.create_artifact(name or Path(path).name, type, project=project,
                                       metadata=metadata)
        return self.upload_artifact(created["id"], path, content_type)

    def artifact(self, artifact_id: str) -> dict:
        """One artifact (its current manifest)."""
        return self._call("GET", f"/artifacts/{artifact_id}").json()

    def artifacts(self, **filters) -> Iterator[dict]:
        """Every artifact matching `filters` (type, name, project, job_id), following the cursor."""
        return self._pages("/artifacts", filters)

    def pull(self, artifact_id: str, target: str | Path, version: int | None = None) -> int:
        """Stream the artifact's bytes (current or `version`) into `target`; bytes written."""
        params = {"version": version} if version else {}
        response = self._call("GET", f"/artifacts/{artifact_id}/download", params=params,
                              stream=True)
        written = 0
        with response, Path(target).open("wb") as handle:
            for chunk in response.iter_content(chunk_size=1024 * 1024):
                handle.write(chunk)
                written += len(chunk)
        return written

    def download_url(self, artifact_id: str, expires_in: int = 3600) -> dict:
        """A signed, time-limited download link `{url, expires_at}` (no credentials needed)."""
        return self._call("POST", f"/artifacts/{artifact_id}/download-url",
                          json={"expires_in": expires_in}).json()
