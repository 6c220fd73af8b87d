"""Artifact retention: expired artifacts and versions older than the retention period go.

An artifact expires at its `expires_at` (given by its creator, or the tenant's default
retention from `default_expiry`); a version that is no longer current is kept for the
retention period (`TASKPLANE_ARTIFACT_RETENTION_DAYS`, 0 = kept until the artifact
goes). Bytes are removed only once no manifest references them. Temp objects of uploads
that died with their process (untouched for `TASKPLANE_STORAGE_TEMP_MAX_AGE_SECONDS`)
go too, at every pass and when a process starts.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select

from app.db import utcnow
from app.extensions import db, runtime
from app.models import Artifact, ArtifactManifest
from app.services import artifacts

BATCH = 500
log = logging.getLogger("taskplane.retention")


def expired_artifacts(now: dt.datetime, limit: int = BATCH) -> int:
    """Remove up to `limit` artifacts whose `expires_at` has passed; returns how many."""
    due = db.session.scalars(select(Artifact).where(Artifact.expires_at <= now)
                             .order_by(Artifact.expires_at).limit(limit)).all()
    for artifact in due:
        artifacts.remove(artifact, "retention", f"expired at {artifact.expires_at.isoformat()}")
    return len(due)


def old_versions(now: dt.datetime, limit: int = BATCH) -> int:
    """Remove up to `limit` non-current versions older than the retention period."""
    days = runtime.settings.artifact_retention_days
    if days <= 0:
        return 0
    cutoff = now - dt.timedelta(days=days)
    rows = db.session.execute(
        select(ArtifactManifest.id, ArtifactManifest.storage_key)
        .join(Artifact, Artifact.id == ArtifactManifest.artifact_id)
        .where(ArtifactManifest.created_at < cutoff,
               ArtifactManifest.id != Artifact.manifest_id)
        .limit(limit)).all()
    if rows:
        db.session.execute(delete(ArtifactManifest)
                           .where(ArtifactManifest.id.in_([r.id for r in rows])))
        db.session.commit()
        artifacts.release(r.storage_key for r in rows)
    return len(rows)


def stale_temp_files() -> int:
    """Remove temp objects of uploads untouched for the temp max age; returns how many."""
    try:
        return artifacts.store().sweep_temp(runtime.settings.storage_temp_max_age_seconds)
    except OSError:  # the folder unreadable: the next pass tries again
        log.exception("could not sweep the object store's temp objects")
        return 0


def sweep(now: dt.datetime | None = None) -> dict:
    """One retention pass: expired artifacts, versions past retention, stale temp objects."""
    now = now or utcnow()
    return {"artifacts": expired_artifacts(now), "versions": old_versions(now),
            "temp_files": stale_temp_files()}
