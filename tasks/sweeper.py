"""Beat's periodic work: re-dispatch jobs whose message may have been lost."""

from __future__ import annotations

import logging

from celery import shared_task

from app.services import jobs

logger = logging.getLogger("taskplane.sweeper")


@shared_task(name="taskplane.sweep", ignore_result=True)
def sweep() -> dict:
    """Publish again queued jobs never dispatched and running jobs whose lease lapsed."""
    ids = jobs.redispatch_stalled()
    if ids:
        logger.warning("re-dispatched %d stalled jobs: %s", len(ids), ", ".join(ids[:20]))
    return {"redispatched": len(ids)}
