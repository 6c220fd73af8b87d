"""One row per periodic task: when it last ran and where, claimed by compare-and-set."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class PeriodicRun(Base):
    """The last run of one periodic task across every beat and worker host."""

    __tablename__ = "periodic_runs"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_run_by: Mapped[str] = mapped_column(String(255), default="")
