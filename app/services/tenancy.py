"""Tenant isolation, enforced once: a scoped session sees and writes only its tenant's rows.

`scope_session(session, tenant)` (called once per request, when the principal is
known) confines every later statement that session executes on a table with a
`tenant` column, present or future:

- ORM statements — selects, `session.get`, relationship loads, ORM-enabled updates and
  deletes — carry `tenant = :tenant` for every mapped class (`with_loader_criteria`);
- Core selects, updates and deletes on such tables (`Job.__table__` …) get
  `tenant = :tenant` for each tenant table they read from or change, in subqueries too;
  so does a bare table among the FROMs, joins or target of an ORM statement (a
  subquery on a bare table inside an ORM statement is not reached: write it with the
  mapped class). An outer join onto a bare tenant table is refused;
- inserts (Core, ORM bulk or `session.add`) of a row of another tenant are refused
  with `CrossTenantWrite`.

A foreign id is then exactly as missing as an absent one, in every service, with no
`where tenant == …` written by hand. Workers and the sweeper use unscoped sessions:
they act for the system, not a tenant; system-side code acting for one tenant confines
its session for that while (`confined`). A statement that must cross tenants on
purpose says so: `execution_options(**UNSCOPED)`. Raw SQL (`text()`, driver SQL, a
connection of the engine's) bypasses all of this and lives in `app/db.py` only.
"""

from __future__ import annotations

import contextlib
import re

import sqlalchemy.event
from sqlalchemy import Delete, Insert, Select, Table, Update
from sqlalchemy.orm import Session, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.selectable import Alias, Join

from app.db import Base

TENANT_KEY = "taskplane.tenant"  # session.info key: the tenant the session is confined to
UNSCOPED = {"taskplane_unscoped": True}
_TENANT_PARAM = re.compile(r"tenant(_m\d+)?$")  # `.values()` binds: tenant, tenant_m0 …


class CrossTenantWrite(RuntimeError):
    """A tenant-scoped session was asked to write a row of another tenant (a bug)."""


def scope_session(session, tenant: str) -> None:
    """Confine every later statement of `session` (until it is removed) to `tenant`."""
    session.info[TENANT_KEY] = tenant


def session_tenant(session) -> str | None:
    """The tenant `session` is confined to, or None for a system session."""
    return session.info.get(TENANT_KEY)


@contextlib.contextmanager
def confined(session, tenant: str):
    """Confine a system session to `tenant` for the block: system code acting for a tenant.

    Inside a session already scoped to `tenant` it changes nothing; scoped to another
    tenant it refuses.
    """
    previous = session.info.get(TENANT_KEY)
    if previous not in (None, tenant):
        raise CrossTenantWrite(f"session of tenant {previous!r} asked to act for {tenant!r}")
    session.info[TENANT_KEY] = tenant
    try:
        yield session
    finally:
        if previous is None:
            session.info.pop(TENANT_KEY, None)


def tenant_classes() -> list[type]:
    """Every mapped class with a `tenant` column: each is scoped in a tenant's session."""
    return [mapper.class_ for mapper in Base.registry.mappers if "tenant" in mapper.columns]


def tenant_tables() -> list[Table]:
    """Every table with a `tenant` column: each is scoped in a tenant's session."""
    return [table for table in Base.metadata.sorted_tables if "tenant" in table.c]


def _bare_tenant_table(clause):
    """`clause` when it is a tenant table (or an alias of one) named as a plain table,
    not through a mapped class (whose loader criteria cover it), else None."""
    table = clause.element if isinstance(clause, Alias) else clause
    if isinstance(table, Table) and "tenant" in table.c and not clause._annotations:
        return clause
    return None


def _joined(clause, targets: list) -> None:
    """Collect the bare tenant tables of a FROM clause, walking Core joins."""
    if isinstance(clause, Join):
        _joined(clause.left, targets)
        if clause.isouter or clause.full:
            _refuse_outer(clause.right)
        else:
            _joined(clause.right, targets)
    elif _bare_tenant_table(clause) is not None:
        targets.append(clause)


def _refuse_outer(clause) -> None:
    """The optional side of an outer join cannot take a WHERE: refuse a tenant table there."""
    found: list = []
    _joined(clause, found)
    if found:
        raise CrossTenantWrite("an outer join onto a bare tenant table cannot be confined; "
                               "join the mapped class or say UNSCOPED")


def _targets(statement) -> list:
    """The bare tenant tables `statement` reads from (its top-level FROMs and joins) or
    changes (its target table)."""
    if not isinstance(statement, Select):
        table = getattr(statement, "table", None)
        return [table] if table is not None and _bare_tenant_table(table) is not None else []
    targets: list = []
    for clause in (*statement.columns_clause_froms, *statement._from_obj):
        _joined(clause, targets)
    for target, _onclause, _left, flags in statement._setup_joins:
        if flags["isouter"] or flags["full"]:
            _refuse_outer(target)
        else:
            _joined(target, targets)
    return list(dict.fromkeys(targets))


def _nests(statement) -> bool:
    """Whether `statement` holds a subquery (in its columns, FROMs, WHERE or values)."""
    return any(isinstance(element, (Select, Update, Delete)) and element is not statement
               for element in visitors.iterate(statement))


def confine(statement, tenant: str, nested: bool = True):
    """`statement` with `tenant = :tenant` on every bare tenant table it reads or changes;
    with `nested`, in its subqueries too."""
    if nested and _nests(statement):  # rare: rewrite the subqueries first
        def inner(element):
            if element is not statement and isinstance(element, (Select, Update, Delete)):
                return confine(element, tenant)
            return None
        statement = visitors.replacement_traverse(statement, {}, inner)
    targets = _targets(statement)
    if not targets:
        return statement
    return statement.where(*(target.c.tenant == tenant for target in targets))


def _check_insert(state, tenant: str) -> None:
    """Refuse an insert into a tenant table of a row whose tenant is not `tenant`."""
    statement = state.statement
    if not isinstance(statement, Insert) or "tenant" not in statement.table.c:
        return
    rows = state.parameters if isinstance(state.parameters, list) else [state.parameters or {}]
    given = [row["tenant"] for row in rows if "tenant" in row]
    if len(given) < len(rows):  # `.values(tenant=…)`: read without compiling, when it can
        given += [bind.value for key, bind in (statement._values or {}).items()
                  if getattr(key, "key", key) == "tenant" and hasattr(bind, "value")]
    if len(given) < len(rows):
        bound = statement.compile(dialect=state.session.get_bind().dialect).params
        given += [value for name, value in bound.items() if _TENANT_PARAM.match(name)]
    foreign = sorted({str(value) for value in given if value != tenant})
    if foreign or not given:
        raise CrossTenantWrite(f"session of tenant {tenant!r} refused a row of "
                               f"{foreign or 'no tenant'} in {statement.table.name}")


@sqlalchemy.event.listens_for(Session, "do_orm_execute")
def _confine_to_tenant(state) -> None:
    """Add `tenant = :tenant` to every tenant table a statement touches; refuse foreign rows."""
    tenant = state.session.info.get(TENANT_KEY)
    if tenant is None or state.execution_options.get("taskplane_unscoped"):
        return
    if state.is_insert:
        _check_insert(state, tenant)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_orm_statement:  # mapped classes by loader criteria, bare tables by WHERE
        state.statement = confine(state.statement, tenant, nested=False).options(*(
            with_loader_criteria(cls, cls.tenant == tenant, include_aliases=True)
            for cls in tenant_classes()
        ))
    else:
        state.statement = confine(state.statement, tenant)


@sqlalchemy.event.listens_for(Session, "before_flush")
def _refuse_foreign_objects(session, _context, _instances) -> None:
    """A scoped session's unit of work adds or changes only rows of its own tenant."""
    tenant = session.info.get(TENANT_KEY)
    if tenant is None:
        return
    for obj in (*session.new, *session.dirty):
        if "tenant" in type(obj).__mapper__.columns and obj.tenant != tenant:
            raise CrossTenantWrite(f"session of tenant {tenant!r} refused a "
                                   f"{type(obj).__name__} of tenant {obj.tenant!r}")
