"""Governance events as stored for `/events`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class GovernanceEvent(Base):
    """A governance event (`service_job_*`, `service_quota_*` …) as stored for `/events`."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_tenant_at", "tenant", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    tenant: Mapped[str] = mapped_column(String(128))
    project: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str | None] = mapped_column(String(256))
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    job_type: Mapped[str | None] = mapped_column(String(64))
    attempt: Mapped[int | None] = mapped_column(Integer)
    max_retries: Mapped[int | None] = mapped_column(Integer)
    trace_id: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
