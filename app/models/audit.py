"""Audit records: one row per mutating or denied HTTP call."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class AuditRecord(Base):
    """Who asked for what, on which object, and what the answer was.

    Never the request's body or its credentials: only the facts below.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_at", "tenant", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    actor: Mapped[str | None] = mapped_column(String(256))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    tenant: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(512), default="unspecified")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(256))
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(64))
