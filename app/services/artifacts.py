"""Artifacts: create, read, version, delete; the tenant's storage limit; job outputs.

Every content version is a manifest row (digest, size, type, storage key, who, when,
why) and the artifact points at its current one. Identical bytes are stored once, so
landing bytes under a key and releasing that key take one lock per key (`_lock_object`):
an upload of bytes whose last reference is being deleted at that instant either lands
after the delete or is seen by it as a reference. Each change of an artifact is one
compare-and-set UPDATE on its `revision` (its ETag), so of two writers holding one
ETag exactly one lands and the other gets 412; bytes are stored before that UPDATE
and released again when it does not land.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import mimetypes
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import delete, func, insert, or_, select, update

from app.auth import Permission, Principal
from app.db import advisory_xact_lock, begin_locking, utcnow
from app.errors import (
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    QuotaExceeded,
    ValidationFailed,
)
from app.extensions import db, runtime
from app.models import Artifact, ArtifactManifest, new_id
from app.services import events, quotas
from app.services.pagination import Page, narrow, paginate
from app.services.tenancy import UNSCOPED, confined
from app.storage import CHUNK, ObjectStore, StoredObject, StoreFull, TooLarge, open_store

MANIFESTS = ArtifactManifest.__table__
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@functools.cache
def _open(url: str, min_free: int) -> ObjectStore:
    return open_store(url, min_free)


def store() -> ObjectStore:
    """The object store of this process (`TASKPLANE_STORAGE_URL`)."""
    return _open(runtime.settings.storage_url, runtime.settings.storage_min_free_bytes)


def _lock_object(key: str) -> None:
    """Open a transaction holding the lock of store key `key` until it ends."""
    begin_locking(db.session)
    _lock_key(key)


def _lock_key(key: str) -> None:
    """Take the lock of store key `key` in the open locking transaction, until it ends.

    SQLite's write lock (`BEGIN IMMEDIATE`) is one lock for every key; PostgreSQL takes a
    transaction-scoped advisory lock named by the key's digest.
    """
    if db.session.connection().dialect.name == "postgresql":
        name = int(key.rsplit("/", 1)[-1][:15], 16)  # 60 bits of the SHA-256: a bigint
        advisory_xact_lock(db.session, name)


def etag(artifact: Artifact) -> str:
    """The artifact's ETag (unquoted), which changes with every update."""
    return f"{artifact.id[:8]}-{artifact.revision}"


# --- reading -----------------------------------------------------------------------------


def _load(artifact_id: str) -> Artifact:
    """The artifact as stored now, as far as the session may see it; else 404."""
    artifact = db.session.get(Artifact, artifact_id, populate_existing=True)
    if artifact is None:
        raise NotFound("artifact not found", details={"id": artifact_id})
    return artifact


def find(tenant: str, artifact_id: str) -> Artifact:
    """The tenant's artifact, checking no permission (the caller has: a signed link).

    System side: the session is confined to `tenant` for the read.
    """
    with confined(db.session, tenant):
        return _load(artifact_id)


def _visible(principal: Principal):
    """The artifacts `principal` may read: unrestricted ones and those its roles unlock."""
    held = [permission.value for permission in principal.permissions]
    return or_(Artifact.read_permission.is_(None), Artifact.read_permission.in_(held))


def get(principal: Principal, artifact_id: str) -> Artifact:
    """The tenant's artifact; another tenant's is as missing as a missing one.

    An output of a restricted job type (`audit-report`) needs that type's permission too.
    """
    artifact = _load(artifact_id)
    if artifact.read_permission:
        principal.require(Permission(artifact.read_permission))
    return artifact


def list_artifacts(principal: Principal, filters: dict, cursor: str | None,
                   limit: int) -> Page:
    """The tenant's artifacts, newest first, filtered by type, name, project, job_id."""
    stmt = narrow(select(Artifact).where(_visible(principal)), Artifact, filters,
                  ("type", "name", "project", "job_id"))
    return paginate(db.session, stmt, (Artifact.created_at, Artifact.id), cursor, limit)


def versions(principal: Principal, artifact_id: str) -> list[ArtifactManifest]:
    """Every stored content version of the artifact, newest first."""
    artifact = get(principal, artifact_id)
    stmt = (select(ArtifactManifest).where(ArtifactManifest.artifact_id == artifact.id)
            .order_by(ArtifactManifest.version.desc()))
    return list(db.session.scalars(stmt))


def manifest(artifact: Artifact, version: int | None = None) -> ArtifactManifest:
    """The artifact's current manifest, or that of `version`; 404 when there is none."""
    stmt = select(ArtifactManifest).where(ArtifactManifest.artifact_id == artifact.id)
    if version is None:
        stmt = stmt.where(ArtifactManifest.id == artifact.manifest_id)
    else:
        stmt = stmt.where(ArtifactManifest.version == version)
    found = db.session.scalar(stmt)
    if found is None:
        what = "artifact has no content" if version is None else "no such version"
        raise NotFound(what, details={"id": artifact.id, "version": version})
    return found


def read(found: ArtifactManifest, start: int = 0, length: int | None = None):
    """The bytes of a manifest, `length` of them from `start`, as an iterator of chunks."""
    return store().read(found.storage_key, start, length)


# --- writing -----------------------------------------------------------------------------


def _store_bytes(tenant: str, chunks: Iterable[bytes], hint: int | None) -> StoredObject:
    """Store `chunks` within the size limit and the tenant's storage limit.

    Returns inside the transaction that holds the tenant's storage lock: the caller
    inserts the manifest and commits (or rolls back), which releases it.
    """
    settings = runtime.settings
    if hint is not None and hint > settings.artifact_max_bytes:
        raise PayloadTooLarge("artifact too large",
                              details={"limit": settings.artifact_max_bytes, "size": hint})
    quotas.admit_bytes(db.session, tenant, hint or 0)
    db.session.rollback()  # no transaction held open while bytes arrive

    def before_landing(key: str) -> None:  # both locks are held until the caller's commit
        quotas.lock_storage(db.session, tenant)
        _lock_key(key)

    try:
        stored = store().put(chunks, limit=settings.artifact_max_bytes, hint=hint,
                             before_landing=before_landing)
    except TooLarge as exc:
        db.session.rollback()
        raise PayloadTooLarge("artifact too large", details={"limit": exc.limit}) from exc
    except StoreFull as exc:
        db.session.rollback()
        raise InsufficientStorage("the object store is full",
                                  details={"size": hint}) from exc
    except BaseException:
        db.session.rollback()
        raise
    try:  # exact across processes: the storage lock is held until the caller's commit
        quotas.admit_bytes(db.session, tenant, stored.size)
    except QuotaExceeded:
        db.session.rollback()
        release([stored.key])
        raise
    return stored


@contextlib.contextmanager
def _committed(stored: StoredObject | None):
    """Commit what the block wrote; on any failure roll back and release `stored`'s bytes."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if stored is not None:
            release([stored.key])
        raise


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or DEFAULT_CONTENT_TYPE


def _new_version(artifact_id: str, tenant: str, stored: StoredObject, content_type: str,
                 actor: str, reason: str, where=(), **changes):
    """CAS the artifact to a new content version and insert its manifest (not committed)."""
    manifest_id = new_id()
    row = db.session.execute(
        update(Artifact).where(Artifact.id == artifact_id, *where)
        .values(version=Artifact.version + 1, revision=Artifact.revision + 1,
                manifest_id=manifest_id, content_type=content_type, size=stored.size,
                digest=stored.digest, updated_at=utcnow(), **changes)
        .returning(Artifact.version)).one_or_none()
    if row is None:
        return None
    db.session.execute(insert(MANIFESTS), [dict(
        id=manifest_id, artifact_id=artifact_id, tenant=tenant, version=row.version,
        digest=stored.digest, size=stored.size, content_type=content_type,
        storage_key=stored.key, created_by=actor, created_at=utcnow(), reason=reason)])
    return row.version


def default_expiry(session, tenant: str, now: dt.datetime) -> dt.datetime | None:
    """When a new artifact of `tenant` expires if its creator gave no time (None = kept)."""
    days = runtime.settings.artifact_retention_days
    return now + dt.timedelta(days=days) if days > 0 else None


def _event(kind: str, artifact: Artifact, actor: str, reason: str, **data) -> None:
    events.emit(db.session, f"service_artifact_{kind}", tenant=artifact.tenant,
                project=artifact.project, actor=actor, artifact_id=artifact.id,
                name=artifact.name, type=artifact.type, job_id=artifact.job_id,
                reason=reason, **data)


def create(principal: Principal, *, name: str, type: str, metadata: dict | None = None,
           project: str | None = None, content: bytes | None = None,
           content_type: str | None = None, expires_at: dt.datetime | None = None) -> Artifact:
    """Create an artifact, with its first content version when `content` is given."""
    return _create(principal.tenant, principal.actor, principal.reason, name=name, type=type,
                   metadata=metadata, project=project, job_id=None, expires_at=expires_at,
                   chunks=None if content is None else [content],
                   hint=None if content is None else len(content), content_type=content_type)


def _create(tenant: str, actor: str, reason: str, *, name: str, type: str, metadata,
            project, job_id, expires_at, chunks, hint, content_type,
            read_permission: str | None = None) -> Artifact:
    stored = None if chunks is None else _store_bytes(tenant, chunks, hint)
    now = utcnow()
    artifact = Artifact(id=new_id(), tenant=tenant, project=project, name=name, type=type,
                        meta=metadata or {}, job_id=job_id, version=0, revision=1,
                        expires_at=expires_at or default_expiry(db.session, tenant, now),
                        read_permission=read_permission,
                        created_by=actor, created_at=now, updated_at=now)
    with _committed(stored):
        db.session.add(artifact)
        db.session.flush()
        if stored is not None:
            _new_version(artifact.id, tenant, stored, content_type or _guess_type(name),
                         actor, reason)
        _event("created", artifact, actor, reason,
               digest=stored.digest if stored else None, size=stored.size if stored else None)
    return _load(artifact.id)


def _check_etag(artifact: Artifact, if_match: tuple[str, ...] | None) -> tuple:
    """The CAS condition for an update: the revision seen, when `If-Match` named it."""
    if if_match is None or "*" in if_match:
        return ()
    if etag(artifact) not in if_match:
        raise PreconditionFailed("artifact changed since you read it (stale ETag)",
                                 details={"etag": etag(artifact)})
    return (Artifact.revision == artifact.revision,)


def update_artifact(principal: Principal, artifact_id: str, *, if_match=None,
                    chunks: Iterable[bytes] | None = None, hint: int | None = None,
                    content_type: str | None = None, **changes) -> Artifact:
    """Change metadata fields and/or store new content; 412 on a stale `If-Match`."""
    if content_type and chunks is None:  # a version's type is part of its manifest
        raise ValidationFailed("content_type goes with new content",
                               details={"content_type": ["only together with content"]})
    artifact = get(principal, artifact_id)
    return _update(artifact, principal.actor, principal.reason, _check_etag(artifact, if_match),
                   chunks=chunks, hint=hint, content_type=content_type, **changes)


def _update(artifact: Artifact, actor: str, reason: str, where: tuple = (), *,
            chunks: Iterable[bytes] | None, hint: int | None, content_type: str | None,
            **changes) -> Artifact:
    """Store new content and/or change fields of `artifact` for `actor`, with its event.

    One compare-and-set on `where` (the revision `If-Match` named, if any); 412 when it
    does not land. The caller has checked the permission (or is the job that owns it).
    """
    if "metadata" in changes:
        changes["meta"] = changes.pop("metadata")
    stored = None if chunks is None else _store_bytes(artifact.tenant, chunks, hint)
    with _committed(stored):
        if stored is not None:
            landed = _new_version(artifact.id, artifact.tenant, stored,
                                  content_type or artifact.content_type
                                  or _guess_type(artifact.name),
                                  actor, reason, where, **changes)
        else:
            landed = db.session.execute(
                update(Artifact).where(Artifact.id == artifact.id, *where)
                .values(revision=Artifact.revision + 1, updated_at=utcnow(), **changes)
                .returning(Artifact.id)).one_or_none()
        if landed is None:
            raise PreconditionFailed("artifact changed since you read it (stale ETag)",
                                     details={"id": artifact.id})
        _event("updated", artifact, actor, reason, fields=sorted(changes),
               content=stored is not None, digest=stored.digest if stored else None)
    return _load(artifact.id)


def delete_artifact(principal: Principal, artifact_id: str) -> None:
    """Remove the artifact and its versions; bytes nothing else references go too."""
    artifact = get(principal, artifact_id)
    remove(artifact, principal.actor, principal.reason)


def remove(artifact: Artifact, actor: str, reason: str) -> None:
    """Delete the artifact row and its manifests, then the bytes nothing else references."""
    keys = list(db.session.scalars(select(ArtifactManifest.storage_key)
                                   .where(ArtifactManifest.artifact_id == artifact.id)))
    db.session.execute(delete(MANIFESTS).where(MANIFESTS.c.artifact_id == artifact.id))
    db.session.execute(delete(Artifact).where(Artifact.id == artifact.id))
    _event("deleted", artifact, actor, reason)
    db.session.commit()
    release(keys)


def release(keys: Iterable[str]) -> list[str]:
    """Delete from the store those of `keys` no manifest references; returns them."""
    gone = []
    for key in sorted(set(keys)):
        _lock_object(key)  # no upload of the same bytes lands between the count and the delete
        try:
            used = db.session.scalar(select(func.count()).select_from(MANIFESTS)  # any tenant's
                                     .where(MANIFESTS.c.storage_key == key)
                                     .execution_options(**UNSCOPED))
            if not used:
                store().delete(key)
                gone.append(key)
        finally:
            db.session.rollback()  # wrote nothing: ending the transaction frees the lock
    return gone


# --- job outputs -------------------------------------------------------------------------


def _file_chunks(path: Path):
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def add_job_artifact(ctx, name: str, source: bytes | str | Path, type: str = "output",
                     content_type: str | None = None,
                     read_permission: str | None = None) -> Artifact:
    """Store `source` (bytes or a file path) as an artifact of the running job `ctx`.

    `ctx` carries `job_id`, `job_type`, `tenant`, `project` and `actor`; the artifact
    inherits them, and reading it needs `read_permission` or, by default, the permission
    the job type itself needs (an `audit-report` is read by those who may run one).
    A job that adds the same name again (a retried attempt) adds a new version.
    """
    spec = runtime.catalog.get(ctx.job_type)
    read_permission = read_permission or (spec.permission if spec else None)
    if isinstance(source, bytes):
        chunks, hint = [source], len(source)
    else:
        path = Path(source)
        chunks, hint = _file_chunks(path), path.stat().st_size
    reason = f"output of job {ctx.job_id}"
    with confined(db.session, ctx.tenant):
        existing = db.session.scalar(select(Artifact).where(Artifact.job_id == ctx.job_id,
                                                            Artifact.name == name)
                                     .execution_options(populate_existing=True))
        if existing is None:
            return _create(ctx.tenant, ctx.actor, reason, name=name, type=type, metadata={},
                           project=ctx.project, job_id=ctx.job_id, expires_at=None,
                           chunks=chunks, hint=hint, content_type=content_type,
                           read_permission=read_permission)
        return _update(existing, ctx.actor, reason, chunks=chunks, hint=hint,
                       content_type=content_type, type=type)


def job_artifacts(principal: Principal, job_id: str) -> list[Artifact]:
    """The artifacts job `job_id` produced that `principal` may read, oldest first."""
    stmt = (select(Artifact).where(Artifact.job_id == job_id, _visible(principal))
            .order_by(Artifact.created_at, Artifact.id))
    return list(db.session.scalars(stmt))
