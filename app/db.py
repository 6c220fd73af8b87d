"""The database handle: one engine and one scoped session per app (and per worker process).

This is the one module that speaks raw SQL or opens sessions and connections of its
own (`text()`, driver SQL, `Session(engine)`): none of that passes through the tenant
scoping of `app/services/tenancy.py`, so each use here is reviewed as such and touches
no tenant table. `tests/auth/test_tenant_enforcement.py` fails on any use elsewhere.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import DateTime, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.errors import DATABASE_OUTAGES


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC times; always hands back timezone-aware values, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type:
        """`datetime`, as the impl says (TypeDecorator does not forward it; cursors need it)."""
        return dt.datetime

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime refused; use utcnow()")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def begin_locking(session) -> None:
    """Commit what `session` read so far and open a transaction that will take locks.

    On SQLite it opens with `BEGIN IMMEDIATE`, which takes the database's write lock at
    once (SQLite has no row locks); on PostgreSQL the caller then locks what it needs.
    """
    real = session() if callable(session) else session  # the scoped session's current one
    if real.in_transaction():
        session.commit()
    if session.connection().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def advisory_xact_lock(session, name: int) -> None:
    """Take PostgreSQL's transaction-scoped advisory lock `name` (a bigint) in `session`."""
    session.execute(text("SELECT pg_advisory_xact_lock(:name)"), {"name": name})


def ping(session) -> None:
    """One round trip to the database of `session` (touches no table)."""
    session.execute(text("SELECT 1"))


def system_session(engine: Engine) -> Session:
    """A session of its own on `engine`, acting for the system (unscoped: no tenant).

    For short work beside a request's session (a row written whatever becomes of the
    request) and for schema checks; the caller closes it.
    """
    return Session(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    """Declarative base of every Taskplane table."""


def _sqlite_pragmas(busy_seconds: float):
    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
    return on_connect


def make_engine(url: str, sqlite_busy_seconds: float = 30.0) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": sqlite_busy_seconds,
                                                  "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_busy_seconds))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


AFTER_COMMIT = "taskplane.after_commit"  # session.info key: (logger, level, line) to write


def log_after_commit(session, logger, level: int, line: str) -> None:
    """Write `line` to `logger` once `session`'s transaction commits; never if it rolls back."""
    session.info.setdefault(AFTER_COMMIT, []).append((logger, level, line))


@event.listens_for(Session, "after_commit")
def _log_committed(session) -> None:
    for logger, level, line in session.info.pop(AFTER_COMMIT, ()):
        logger.log(level, line)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session) -> None:
    session.info.pop(AFTER_COMMIT, None)


class Database:
    """Engine plus scoped session (one session per thread), bound to one database URL."""

    def __init__(self, url: str | None = None, sqlite_busy_seconds: float = 30.0):
        self.engine: Engine | None = None
        self.session = scoped_session(sessionmaker(expire_on_commit=False))
        self.sqlite_busy_seconds = sqlite_busy_seconds
        if url is not None:
            self.configure(url)

    def configure(self, url: str) -> None:
        """Bind to `url` (replacing any earlier engine)."""
        if self.engine is not None and str(self.engine.url) == url:
            return
        self.dispose()
        self.engine = make_engine(url, self.sqlite_busy_seconds)
        self.session.configure(bind=self.engine)

    def release(self) -> None:
        """End this thread's session; a connection the database already cut is dropped.

        Closing rolls back, and a rollback on a connection a database outage cut raises:
        the request or task is over by then, so its answer must not become a 500.
        """
        try:
            self.session.remove()
        except DATABASE_OUTAGES:
            self.session.registry.clear()  # the connection was invalidated on the way

    def close(self) -> None:
        """End this thread's session and close every pooled connection (the app is done)."""
        self.session.remove()
        if self.engine is not None:
            self.engine.dispose()

    def dispose(self) -> None:
        """Drop pooled connections; called in forked workers before first use."""
        self.session.remove()
        if self.engine is not None:
            self.engine.dispose(close=False)
