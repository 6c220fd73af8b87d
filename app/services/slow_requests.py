"""Slow requests: kept in one table shared by every web process, the last N only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, insert, select

from app.db import system_session, utcnow
from app.extensions import db, runtime
from app.models import SlowRequest
from app.services.pagination import Page, paginate

SLOW = SlowRequest.__table__
RECENT = dt.timedelta(minutes=5)


def record(**request) -> None:
    """Store one slow request and drop those beyond the newest `slow_requests_kept`.

    Its own short transaction in a system session (the newest N of every tenant are
    kept): the request's session is left as is.
    """
    kept = runtime.settings.slow_requests_kept
    request["path"] = request["path"][:512]
    with system_session(db.engine) as session, session.begin():
        new_id = session.execute(insert(SLOW).values(at=utcnow(), **request)
                                 .returning(SLOW.c.id)).scalar_one()
        session.execute(delete(SLOW).where(SLOW.c.id <= new_id - kept))


def recent(session, now: dt.datetime | None = None) -> dict:
    """How many requests were slow in the last five minutes, and the slowest of them."""
    since = (now or utcnow()) - RECENT
    count = session.scalar(select(func.count()).select_from(SLOW).where(SLOW.c.at >= since))
    slowest = session.execute(
        select(SLOW.c.method, SLOW.c.route, SLOW.c.duration_ms, SLOW.c.at)
        .where(SLOW.c.at >= since).order_by(SLOW.c.duration_ms.desc()).limit(1)).first()
    return {"last_5_minutes": count, "threshold_ms": runtime.settings.slow_request_ms,
            "slowest": None if slowest is None else {
                "method": slowest.method, "route": slowest.route,
                "duration_ms": round(slowest.duration_ms, 1), "at": slowest.at.isoformat()}}


def list_slow_requests(cursor: str | None, limit: int) -> Page:
    """The tenant's slow requests, newest first (the request session is tenant-scoped)."""
    return paginate(db.session, select(SlowRequest), (SlowRequest.id,), cursor, limit)
