"""`sleep`: sleeps in small steps, reporting progress and honouring cancel."""

from __future__ import annotations

import time

STEP_SECONDS = 0.1


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
