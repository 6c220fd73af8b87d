"""Zip archives of artifacts, streamed as they are read from the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from sqlalchemy import select
from zipstream import ZipStream

from app.errors import NotFound
from app.extensions import db
from app.models import Artifact
from app.services import artifacts
from app.services.tenancy import confined


def archive_name(name: str, taken: set[str]) -> str:
    """A safe, unique member name for a label: no absolute paths, no `..`, no NUL."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/").replace("\x00", "")).parts
             if p not in ("/", ".", "..")]
    base = "/".join(parts) or "artifact"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        stem, dot, suffix = base.rpartition(".")
        candidate = f"{stem} ({n}).{suffix}" if dot and stem else f"{base} ({n})"
    taken.add(candidate)
    return candidate


def _lazy(manifest) -> Iterator[bytes]:
    yield from artifacts.read(manifest)


def zip_stream(items: list[Artifact]) -> Iterator[bytes]:
    """The zip of the artifacts' current content (those without content are skipped)."""
    archive = ZipStream(sized=False)
    taken: set[str] = set()
    for artifact in items:
        if artifact.manifest_id is None:
            continue
        manifest = artifacts.manifest(artifact)
        archive.add(_lazy(manifest), archive_name(artifact.name, taken))
    return iter(archive)


def members(tenant: str, artifact_ids: list[str]) -> list[Artifact]:
    """The tenant's artifacts of `artifact_ids`, in that order; 404 naming any missing.

    System side (a job of `tenant`): the session is confined to `tenant` for the read.
    """
    with confined(db.session, tenant):
        found = {a.id: a for a in db.session.scalars(
            select(Artifact).where(Artifact.id.in_(artifact_ids)))}
    missing = [i for i in artifact_ids if i not in found]
    if missing:
        raise NotFound("artifacts not found", details={"artifact_ids": missing})
    return [found[i] for i in dict.fromkeys(artifact_ids)]
