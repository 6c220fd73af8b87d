"""A net under the tenancy enforcement point for the whole suite, in the test process.

Every statement a tenant-scoped session sends to the database is checked as it goes
out: each time it reads or changes a tenant table (in a subquery too) it must carry
`<table>.tenant = <the session's tenant>`. A query that escapes
`app/services/tenancy.py` (raw SQL on a tenant table, a bare-table subquery inside an
ORM statement, whatever comes next) fails the test that ran it, whichever test that
is. Statements marked UNSCOPED, inserts (refused by the hook itself when foreign), the
unit of work's writes and refreshes of objects already loaded (their tenant was checked
then) and system sessions are not checked.
"""

from __future__ import annotations

import collections
import re

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import Base
from app.services.tenancy import TENANT_KEY

SESSION_INFO = "taskplane_session_info"  # attribute of a Session's Connection
RELOAD = "taskplane_reload"  # execution option: a refresh of an object already loaded
FLUSHING = "taskplane.flushing"  # session.info: the unit of work writes objects the
# session loaded through the hook or added (whose tenant `before_flush` checked)
escapes: list[str] = []


def _occurrences(sql: str, tables) -> list[str]:
    """The names (alias or table) under which tenant tables are read or changed in `sql`."""
    names = []
    for table in tables:
        pattern = (rf"\b(?:FROM|JOIN|UPDATE)\s+\"?{table}\"?(?:\s+AS\s+(\w+))?"
                   rf"|,\s*\"?{table}\"?(?:\s+AS\s+(\w+))?(?=\s|$|,)")
        for match in re.finditer(pattern, sql, flags=re.IGNORECASE):
            names.append(match.group(1) or match.group(2) or table)
    return names


def _check(conn, _cursor, statement, parameters, context, _executemany) -> None:
    info = getattr(conn, SESSION_INFO, None)
    tenant = info.get(TENANT_KEY) if info is not None else None
    options = context.execution_options
    if tenant is None or options.get("taskplane_unscoped") or options.get(RELOAD) \
            or info.get(FLUSHING):
        return
    if statement.lstrip().upper().startswith(("INSERT", "BEGIN", "SAVEPOINT", "RELEASE")):
        return
    tables = [t.name for t in Base.metadata.sorted_tables if "tenant" in t.c]
    values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters or ())
    read = collections.Counter(_occurrences(statement, tables))
    for name, times in read.items():  # each FROM of it (a subquery's too) needs its own
        confined = len(re.findall(rf"\b{name}\.\"?tenant\"?\s*=", statement))
        if confined < times or tenant not in values:
            escapes.append(f"tenant {tenant!r}: {name} not confined in: {statement}")
            raise AssertionError(escapes[-1])


def _remember_session(session, _transaction, connection) -> None:
    setattr(connection, SESSION_INFO, session.info)  # live: `confined` changes show


def _mark_reload(state) -> None:
    """Refreshing an object the session already holds (`session.refresh`, an expired
    attribute) re-reads a row whose tenant was checked when it was first loaded."""
    if state.is_column_load:
        state.update_execution_options(**{RELOAD: True})


def _flushing(session, *_args) -> None:
    session.info[FLUSHING] = True


def _flushed(session, *_args) -> None:
    session.info.pop(FLUSHING, None)


def install() -> None:
    """Check every statement of every engine in this process from now on."""
    if not event.contains(Engine, "before_cursor_execute", _check):
        event.listen(Engine, "before_cursor_execute", _check)
        event.listen(Session, "after_begin", _remember_session)
        event.listen(Session, "do_orm_execute", _mark_reload)
        event.listen(Session, "before_flush", _flushing)
        event.listen(Session, "after_flush_postexec", _flushed)
        event.listen(Session, "after_rollback", _flushed)
