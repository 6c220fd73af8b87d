"""`sleep`: sleeps in small steps, reporting progress and honouring cancel."""

from __future__ import annotations

import time

from marshmallow import fields, validate

from config.catalog import JobType, PayloadSchema

STEP_SECONDS = 0.1


class SleepPayload(PayloadSchema):
    seconds = fields.Float(required=True, validate=validate.Range(min=0, max=3600))


JOB_TYPE = JobType(
    name="sleep",
    description="Smoke test: sleeps in small steps, reporting progress and honouring cancel.",
    payload_schema=SleepPayload,
    handler=f"{__name__}:run",
    max_retries=1,  # never fails on its own; one attempt lost with its worker is retried
    soft_time_limit=3600,
    time_limit=3660,
)


def run(ctx, payload: dict) -> dict:
    """Sleep `seconds`, checking for cancel every step and reporting progress."""
    total = payload["seconds"]
    started = time.monotonic()
    ctx.log(f"sleeping {total}s")
    reported = -1
    while (elapsed := time.monotonic() - started) < total:
        ctx.check_cancelled()
        second = int(elapsed)
        if second != reported:
            reported = second
            ctx.progress(elapsed / total, f"slept {second}s of {total}s")
        time.sleep(min(STEP_SECONDS, total - elapsed))
    ctx.log("done")
    return {"slept": round(time.monotonic() - started, 3)}
