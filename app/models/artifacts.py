"""Artifact rows: the artifact and one manifest per content version."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.models.jobs import new_id


class Artifact(Base):
    """A named, typed artifact of a tenant; `manifest_id` points at its current content."""

    __tablename__ = "artifacts"
    __table_args__ = (
        Index("ix_artifacts_tenant_created", "tenant", "created_at", "id"),
        Index("ix_artifacts_job_id", "job_id"),
        Index("ix_artifacts_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(128))
    project: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(36))
    manifest_id: Mapped[str | None] = mapped_column(String(36))  # the current manifest
    version: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    content_type: Mapped[str | None] = mapped_column(String(256))
    size: Mapped[int | None] = mapped_column(BigInteger)
    digest: Mapped[str | None] = mapped_column(String(71))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # a permission beyond `read` that reading it needs (outputs of restricted job types)
    read_permission: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArtifactManifest(Base):
    """One content version of an artifact: digest, size, type and where the bytes are."""

    __tablename__ = "artifact_manifests"
    __table_args__ = (
        Index("uq_artifact_manifests_version", "artifact_id", "version", unique=True),
        Index("ix_artifact_manifests_tenant", "tenant"),
        Index("ix_artifact_manifests_storage_key", "storage_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    tenant: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(71))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(256))
    storage_key: Mapped[str] = mapped_column(String(512))
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(512), default="unspecified")
