"""Beat's periodic work: end or re-dispatch stalled jobs, reconcile quota counters, artifacts."""

from __future__ import annotations

import logging

from celery import shared_task

from app.services import artifact_integrity, artifact_retention, job_sweeps, quotas
from app.services.periodic import once_per_interval

logger = logging.getLogger("taskplane.sweeper")


@shared_task(name="taskplane.sweep", ignore_result=True)
@once_per_interval
def sweep() -> dict:
    """End lapsed attempts that must not run again; publish once more what lost its message."""
    ids = job_sweeps.redispatch_stalled()
    if ids:
        logger.warning("re-dispatched %d stalled jobs: %s", len(ids), ", ".join(ids[:20]))
    return {"redispatched": len(ids)}


@shared_task(name="taskplane.artifacts.retention", ignore_result=True)
@once_per_interval
def expire_artifacts() -> dict:
    """Remove expired artifacts and versions past retention, with the bytes they alone held."""
    swept = artifact_retention.sweep()
    if any(swept.values()):
        logger.info("artifact retention: %s", swept)
    return swept


@shared_task(name="taskplane.quotas.reconcile", ignore_result=True)
@once_per_interval
def reconcile_quotas() -> dict:
    """Compare the active-job counters with the jobs; repair (and report) any drift."""
    repaired = quotas.reconcile()
    if repaired:
        logger.warning("quota counters repaired: %s", repaired[:20])
    return {"repaired": len(repaired)}


@shared_task(name="taskplane.artifacts.scrub", ignore_result=True)
@once_per_interval
def scrub_artifacts() -> dict:
    """Check the next stored objects against their digests; report what is missing or corrupt."""
    found = artifact_integrity.scrub()
    if found["missing"] or found["corrupt"]:
        logger.error("artifact scrub: %d missing, %d corrupt of %d checked",
                     len(found["missing"]), len(found["corrupt"]), found["checked"])
    return {"checked": found["checked"], "missing": len(found["missing"]),
            "corrupt": len(found["corrupt"])}
