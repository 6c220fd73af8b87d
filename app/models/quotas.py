"""Quota rows: per-tenant overrides of the catalog's limits, and the lock admission takes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.models.jobs import Job


class JobQuota(Base):
    """A tenant's limits for one job type (null: the catalog's default), usage, alert level.

    Admission locks this row, so submissions of one tenant and job type are decided one
    at a time across every API process; `active` counts the type's queued, running and
    retrying jobs, kept in the transaction of every status change that moves a job in or
    out of that set; `alert_level` is the last usage threshold (0, 80 or 100 percent)
    crossed, so each crossing is announced once.
    """

    __tablename__ = "job_quotas"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    job_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    max_active: Mapped[int | None] = mapped_column(Integer)
    max_per_hour: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    alert_level: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobSubmissions(Base):
    """Submissions of a tenant's job type in one UTC minute: the rolling hour is 60 of these."""

    __tablename__ = "job_submissions"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    job_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class TenantQuota(Base):
    """A tenant's own artifact storage limit in bytes (null: the configured default)."""

    __tablename__ = "tenant_quotas"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    max_artifact_bytes: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# The reconcile counts a tenant's active jobs of a type (admission reads the counters);
# the refusal of an over-hourly submission finds the oldest in the window.
Index("ix_jobs_quota_active", Job.tenant, Job.job_type, Job.status)
Index("ix_jobs_quota_created", Job.tenant, Job.job_type, Job.created_at)
