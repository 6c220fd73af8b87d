"""`echo`: fails retryably on its first `fail_times` attempts, then logs and returns the message."""

from __future__ import annotations

from tasks.errors import RetryableJobError


def run(ctx, payload: dict) -> dict:
    """Return `{"message": ...}` once `fail_times` attempts have failed."""
    if ctx.attempt <= payload["fail_times"]:
        raise RetryableJobError(f"planned failure {ctx.attempt} of {payload['fail_times']}")
    ctx.log(payload["message"])
    return {"message": payload["message"]}
