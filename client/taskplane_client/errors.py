"""What the bindings raise: an API error with the server's error envelope, a wait that ran out."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import requests


class ApiError(Exception):
    """An error answer of the API: its status and the envelope `{"error": {...}}` it carried.

    `code`, `message`, `details` and `request_id` are the envelope's fields (`request_id`
    falls back to the `X-Request-ID` header); `retry_after` is the `Retry-After` header in
    seconds when the answer gave one (429, 503), else None.
    """

    def __init__(self, status: int, body: Any, *, request_id: str | None = None,
                 retry_after: float | None = None):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        error = error if isinstance(error, dict) else {}
        super().__init__(f"{status} {error.get('code', 'error')}: {error.get('message', body)}")
        self.status = status
        self.body = body
        self.code: str | None = error.get("code")
        self.message: str | None = error.get("message")
        self.details: dict = error.get("details") or {}
        self.request_id: str | None = error.get("request_id") or request_id
        self.retry_after = retry_after
        self.resent = False  # whether the request was sent again after a dropped connection

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        """The error a non-2xx answer stands for (a body that is not JSON becomes the message)."""
        try:
            body = response.json()
        except ValueError:
            body = {"error": {"message": response.text}}
        return cls(response.status_code, body,
                   request_id=response.headers.get("X-Request-ID"),
                   retry_after=retry_after(response.headers.get("Retry-After")))


def retry_after(value: str | None) -> float | None:
    """A `Retry-After` header (delay seconds or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class WaitTimeout(TimeoutError):
    """`Client.wait` gave up before the job ended; `job` is the job as last seen."""

    def __init__(self, job: dict, timeout: float):
        super().__init__(f"job {job.get('id')} still {job.get('status')} after {timeout:g} s")
        self.job = job
