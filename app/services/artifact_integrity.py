"""Stored bytes checked against their digest: on every download, by `taskplane artifacts
verify`, and by beat's rate-limited scrub.

An object is `missing` (nothing under its key) or `corrupt` (its bytes do not hash to the
manifest's digest, or their count differs from its size). Either is answered as a clear
error (`artifact_missing`, `artifact_corrupt`, status 502: the store behind the API gave
back nothing or the wrong thing), recorded as a governance event of each tenant whose
artifact holds the object (`service_artifact_missing`, `service_artifact_corrupt`) and
counted (`service_artifact_integrity_failures_total{kind,source}`).

A download never sends wrong bytes. An object of up to
`TASKPLANE_ARTIFACT_VERIFY_BEFORE_SEND_BYTES` is read and hashed whole before the answer
starts, so any fault is an error answer in the envelope. A larger one is hashed while it
is sent and its last piece is held back until the digest matches; when it does not, the
connection is cut short of the announced `Content-Length`, so every HTTP client reports
a truncated transfer instead of a complete body. A Range request is checked the same way
against the whole object (the digest covers the whole object, not the range): it reads
the whole object, sends only the range. A missing object is always answered before any
byte is sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Iterator

from sqlalchemy import select

from app.errors import ArtifactCorrupt, ArtifactMissing
from app.extensions import db, runtime
from app.metrics import ARTIFACT_INTEGRITY
from app.models import Artifact, ArtifactManifest
from app.services import events
from app.services.artifacts import store
from app.services.tenancy import UNSCOPED, confined
from app.storage import DIGEST_PREFIX, ObjectMissing, StoredObject

OK, MISSING, CORRUPT = "ok", "missing", "corrupt"


def check(stored: StoredObject) -> str:
    """`ok`, `missing` or `corrupt`: the object under `stored.key` read whole and hashed."""
    try:
        chunks = store().read(stored.key)
    except ObjectMissing:
        return MISSING
    hasher, size = hashlib.sha256(), 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    return OK if (size == stored.size
                  and DIGEST_PREFIX + hasher.hexdigest() == stored.digest) else CORRUPT


def report(stored: StoredObject, kind: str, source: str) -> list[str]:
    """Record a missing or corrupt object: an event per artifact holding it, one count.

    Returns the ids of the artifacts whose manifests (any version) reference it.
    """
    ARTIFACT_INTEGRITY.labels(kind, source).inc()
    db.session.rollback()
    holders = db.session.execute(
        select(ArtifactManifest.artifact_id, ArtifactManifest.version, Artifact.tenant,
               Artifact.project, Artifact.name)
        .join(Artifact, Artifact.id == ArtifactManifest.artifact_id)
        .where(ArtifactManifest.storage_key == stored.key)
        .execution_options(**UNSCOPED)).all()
    db.session.rollback()
    for holder in holders:
        with confined(db.session, holder.tenant):
            events.emit(db.session, f"service_artifact_{kind}", tenant=holder.tenant,
                        project=holder.project, actor="system", artifact_id=holder.artifact_id,
                        name=holder.name, version=holder.version, digest=stored.digest,
                        size=stored.size, source=source)
            db.session.commit()
    return sorted({holder.artifact_id for holder in holders})


def _refuse(stored: StoredObject, kind: str, artifact_id: str):
    """Report the fault found while serving a download, and the error that answers it."""
    report(stored, kind, "download")
    details = {"id": artifact_id, "digest": stored.digest}
    if kind == MISSING:
        return ArtifactMissing("the artifact's stored bytes are missing", details=details)
    return ArtifactCorrupt("the artifact's stored bytes do not match its digest",
                           details=details)


def _stored(manifest: ArtifactManifest) -> StoredObject:
    return StoredObject(manifest.storage_key, manifest.digest, manifest.size)


def body(artifact_id: str, manifest: ArtifactManifest, start: int, stop: int, whole: bool):
    """The bytes `start`..`stop` of a manifest, checked against its digest (module doc).

    A local file object when the whole of a checked local object is asked for (sent with
    sendfile), else an iterator of chunks. Raises `ArtifactMissing` / `ArtifactCorrupt`
    for what is found before the answer starts.
    """
    stored = _stored(manifest)
    if manifest.size <= runtime.settings.artifact_verify_before_send_bytes:
        kind = check(stored)
        if kind != OK:
            raise _refuse(stored, kind, artifact_id)
        try:
            handle = store().open_file(stored.key) if whole else None
            return handle or store().read(stored.key, start, stop - start)
        except ObjectMissing:
            raise _refuse(stored, MISSING, artifact_id) from None
    try:
        chunks = store().read(stored.key)
    except ObjectMissing:
        raise _refuse(stored, MISSING, artifact_id) from None
    checked = _checked_slice(chunks, stored, start, stop, artifact_id)
    first = next(checked, None)  # a fault found before the first piece is an error answer
    return itertools.chain(() if first is None else (first,), checked)


def _checked_slice(chunks, stored: StoredObject, start: int, stop: int,
                   artifact_id: str) -> Iterator[bytes]:
    """Bytes `start`..`stop` of the whole object `chunks`; the last piece only once it checks."""
    hasher, offset, held = hashlib.sha256(), 0, None
    for chunk in chunks:
        hasher.update(chunk)
        low, high = max(start - offset, 0), min(stop - offset, len(chunk))
        offset += len(chunk)
        if low < high:
            if held is not None:
                yield held
            held = chunk[low:high] if (low, high) != (0, len(chunk)) else chunk
    if offset != stored.size or DIGEST_PREFIX + hasher.hexdigest() != stored.digest:
        raise _refuse(stored, CORRUPT, artifact_id)  # headers are out: the connection is cut
    if held is not None:
        yield held


def stored_keys(after: str = "", limit: int | None = None) -> list[StoredObject]:
    """Every object manifests of any tenant reference, by key, from after `after`."""
    stmt = (select(ArtifactManifest.storage_key, ArtifactManifest.digest, ArtifactManifest.size)
            .where(ArtifactManifest.storage_key > after).distinct()
            .order_by(ArtifactManifest.storage_key).execution_options(**UNSCOPED))
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = db.session.execute(stmt).all()
    db.session.rollback()
    return [StoredObject(*row) for row in rows]


def verify(keys: list[StoredObject], source: str, max_bytes: int | None = None) -> dict:
    """Check `keys` in order (stop after `max_bytes` read); report and list what is bad.

    Answers `{"checked", "bytes", "last_key", "missing": [...], "corrupt": [...]}`, each
    bad object as `{"key", "digest", "size", "artifacts"}`.
    """
    found = {"checked": 0, "bytes": 0, "last_key": None, MISSING: [], CORRUPT: []}
    for stored in keys:
        if max_bytes is not None and found["checked"] and found["bytes"] >= max_bytes:
            break
        kind = check(stored)
        found["checked"] += 1
        found["bytes"] += stored.size
        found["last_key"] = stored.key
        if kind != OK:
            found[kind].append({**dataclasses.asdict(stored),
                                "artifacts": report(stored, kind, source)})
    return found


SCRUB_CURSOR = "taskplane:artifact-scrub:after"  # the last key the scrub checked (Redis)


def scrub() -> dict:
    """One rate-limited pass of the background scrub, from where the last one stopped.

    Checks at most `TASKPLANE_ARTIFACT_SCRUB_OBJECTS` objects and stops once
    `TASKPLANE_ARTIFACT_SCRUB_BYTES` have been read; the next pass goes on after the
    last key checked (kept in Redis) and starts over after the last key of all.
    """
    from app.services.job_ends import redis_client

    settings = runtime.settings
    client = redis_client()
    after = (client.get(SCRUB_CURSOR) or b"").decode()
    keys = stored_keys(after, settings.artifact_scrub_objects)
    found = verify(keys, "scrub", settings.artifact_scrub_bytes)
    done = len(keys) < settings.artifact_scrub_objects and found["checked"] == len(keys)
    client.set(SCRUB_CURSOR, "" if done else found["last_key"] or "")
    return found
