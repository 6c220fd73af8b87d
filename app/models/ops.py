"""Operator records: the most recent slow requests, shared by every web process."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class SlowRequest(Base):
    """A request slower than `TASKPLANE_SLOW_REQUEST_MS` (only the last N are kept)."""

    __tablename__ = "slow_requests"
    __table_args__ = (Index("ix_slow_requests_tenant_at", "tenant", "at", "id"),
                      Index("ix_slow_requests_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    tenant: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str | None] = mapped_column(String(256))
    method: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(256))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    request_id: Mapped[str] = mapped_column(String(128))
    trace_id: Mapped[str | None] = mapped_column(String(32))
