"""No query on a tenant table escapes the one enforcement point (`app/services/tenancy.py`).

Two nets. At run time, every table with a `tenant` column (found in the metadata, so a
new table is covered the day it is added) is read, changed and deleted through a
session scoped to tenant A with ORM and Core statements alike, and only A's rows are
seen or touched; rows of another tenant are refused. In the source, nothing under
`app/` or `tasks/` outside `app/db.py` may use what bypasses the session's hook: raw
SQL, driver SQL, connections or sessions of its own.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import and_, delete, func, insert, or_, select, text, update

import app.models  # noqa: F401 - every table in the metadata before it is read
from app.db import system_session, utcnow
from app.extensions import db
from app.services.tenancy import (
    UNSCOPED,
    CrossTenantWrite,
    confined,
    scope_session,
    session_tenant,
    tenant_classes,
    tenant_tables,
)
from tests import tenancy_guard

ROOT = Path(__file__).resolve().parents[2]
TABLES = {table.name: table for table in tenant_tables()}
MAPPED = {cls.__table__.name: cls for cls in tenant_classes()}


def _value(column):
    """A value for a required column without a default."""
    kind = column.type.python_type
    if kind is str:
        return uuid.uuid4().hex[:column.type.length or 32]
    if kind is dt.datetime:
        return utcnow()
    return {bool: False, int: 1, float: 0.0, dict: {}, list: []}.get(kind, None)


def _insert_row(session, table, tenant: str) -> dict:
    """Insert one row of `tenant` into `table` (parents first); returns its primary key."""
    row = {"tenant": tenant}
    for column in table.c:
        if column.name == "tenant":
            continue
        if column.foreign_keys:
            [fk] = column.foreign_keys
            parent = _insert_row(session, fk.column.table, tenant)
            row[column.name] = parent[fk.column.name]
        elif column.primary_key and column.type.python_type is int:
            continue  # autoincrement
        elif column.primary_key or not (column.nullable or column.default is not None
                                        or column.server_default is not None):
            row[column.name] = _value(column)
    result = session.execute(insert(table).values(**row))
    return dict(zip([c.name for c in table.primary_key], result.inserted_primary_key,
                    strict=True))


def _where(table, *keys: dict):
    """Rows of `table` with any of the primary keys `keys`."""
    return or_(*(and_(*(table.c[name] == value for name, value in key.items()))
                 for key in keys))


@pytest.fixture
def two_tenants(app, tenant):
    """For each test: one row of `tenant` and one of another tenant in the table given."""
    def seed(table):
        """(mine, theirs, a WHERE matching both) for `table`."""
        with app.app_context(), system_session(db.engine) as session, session.begin():
            mine = _insert_row(session, table, tenant)
            theirs = _insert_row(session, table, f"{tenant}-b")
        return mine, theirs, _where(table, mine, theirs)
    return seed


@contextlib.contextmanager
def _session(app):
    """The app's session for the block, removed (its scope with it) at the end."""
    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


def test_every_tenant_table_is_found():
    assert {"jobs", "events", "audit_log", "api_keys", "artifacts", "artifact_manifests",
            "job_quotas", "job_submissions", "tenant_quotas", "slow_requests"} <= set(TABLES)
    assert "job_logs" not in TABLES  # reached only through its job


@pytest.fixture
def scoped_to_mine(app, tenant, two_tenants):
    """`(session scoped to this test's tenant, WHERE matching both seeded rows)` of a table."""
    @contextlib.contextmanager
    def open_(table):
        _, _, both = two_tenants(table)
        with _session(app) as session:
            scope_session(session, tenant)
            yield session, both
    return open_


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_scoped_session_reads_only_its_tenant_core_and_orm(scoped_to_mine, tenant, name):
    table = TABLES[name]
    with scoped_to_mine(table) as (session, both):
        everything = session.execute(select(table)).all()
        assert everything and {row.tenant for row in everything} == {tenant}
        assert session.scalar(select(func.count()).select_from(table).where(both)) == 1
        inner = select(table.c.tenant).where(both).subquery()
        assert session.scalars(select(inner.c.tenant)).all() == [tenant]
        nested = select(func.count()).where(
            select(table.c.tenant).where(both).limit(1).scalar_subquery() == tenant)
        assert session.scalar(nested) == 1
        if name in MAPPED:
            cls = MAPPED[name]
            assert {row.tenant for row in session.scalars(select(cls))} == {tenant}
            assert len(session.scalars(select(cls).where(both)).all()) == 1


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_scoped_session_changes_only_its_tenant_core_and_orm(app, scoped_to_mine, tenant,
                                                               name):
    table = TABLES[name]
    with scoped_to_mine(table) as (session, both):
        assert session.execute(update(table).where(both)
                               .values(tenant=table.c.tenant)).rowcount == 1
        if name in MAPPED:
            cls = MAPPED[name]
            orm = (update(cls).where(both).values(tenant=cls.tenant)
                   .execution_options(synchronize_session=False))
            assert session.execute(orm).rowcount == 1
        assert session.execute(delete(table).where(both)).rowcount == 1
        session.commit()
    with _session(app) as session:
        assert session.scalars(select(table.c.tenant).where(both)).all() == [f"{tenant}-b"]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_scoped_session_refuses_rows_of_another_tenant(app, tenant, name):
    table = TABLES[name]
    with _session(app) as session:
        scope_session(session, tenant)
        with pytest.raises(CrossTenantWrite):
            _insert_row(session, table, f"{tenant}-b")
        session.rollback()
        _insert_row(session, table, tenant)  # its own tenant's row goes in
        session.rollback()
        if name in MAPPED:
            with session.no_autoflush:
                session.add(MAPPED[name](tenant=f"{tenant}-b"))
            with pytest.raises(CrossTenantWrite):
                session.flush()
            session.rollback()


def test_unscoped_says_so_and_system_sessions_see_every_tenant(app, tenant, two_tenants):
    table = TABLES["events"]
    _, _, both = two_tenants(table)
    crossing = select(func.count()).select_from(table).where(both)
    with _session(app) as session:
        assert session.scalar(crossing) == 2
        scope_session(session, tenant)
        assert session.scalar(crossing.execution_options(**UNSCOPED)) == 2


def test_bare_tables_in_orm_statements_are_confined_too(app, tenant, two_tenants):
    table, cls = TABLES["job_quotas"], MAPPED["job_quotas"]
    mine, theirs, both = two_tenants(table)
    with _session(app) as session:
        scope_session(session, tenant)
        mixed = select(table.c.tenant).where(both, cls.active >= 0)  # ORM by its WHERE
        assert session.scalars(mixed).all() == [tenant]
        bare = table.alias()
        types = [mine["job_type"], theirs["job_type"]]
        joined = (select(cls.job_type, bare.c.tenant)
                  .join(bare, bare.c.job_type == cls.job_type)
                  .where(cls.job_type.in_(types)))
        assert [row.tenant for row in session.execute(joined)] == [tenant]
        changed = session.execute(update(table).where(both, cls.active >= 0)
                                  .values(active=table.c.active))
        assert changed.rowcount == 1
        with pytest.raises(CrossTenantWrite):  # a WHERE would drop the outer join's rows
            session.execute(select(cls.job_type).outerjoin(
                bare, bare.c.job_type == cls.job_type))


def test_the_suite_guard_fails_a_statement_that_escapes(app, tenant):
    seen = len(tenancy_guard.escapes)
    with _session(app) as session:
        scope_session(session, tenant)
        with pytest.raises(Exception, match="jobs not confined"):
            session.execute(text("SELECT count(*) FROM jobs"))
        assert session.execute(text("SELECT 1")).scalar() == 1  # no tenant table
    assert len(tenancy_guard.escapes) == seen + 1
    del tenancy_guard.escapes[seen:]  # seen, and expected: not this test's failure


def test_confined_scopes_a_system_session_for_a_while(app, tenant, two_tenants):
    table = TABLES["jobs"]
    _, _, both = two_tenants(table)
    with _session(app) as session:
        with confined(session, tenant):
            assert session.scalars(select(table.c.tenant).where(both)).all() == [tenant]
            with pytest.raises(CrossTenantWrite), confined(session, f"{tenant}-b"):
                pass
        assert session_tenant(session) is None
        assert len(session.scalars(select(table.c.tenant).where(both)).all()) == 2


# --- the source: nothing bypasses the session outside app/db.py --------------------------

REVIEWED = Path("app/db.py")  # raw SQL lives here; each use touches no tenant table
BYPASSING_NAMES = {"text", "literal_column", "TextClause", "Connection", "create_engine"}
OWN_SESSIONS = {"Session", "sessionmaker", "scoped_session"}  # called: unscoped sessions


def _calls(node: ast.AST, method: str) -> bool:
    """Whether `node` is a call of `.method()`: `session.connection()`, `get_bind()`."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr == method


def _bypasses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for each use of something that runs SQL past the session's hook."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if a.name in BYPASSING_NAMES]
        elif isinstance(node, ast.Attribute) and node.attr in BYPASSING_NAMES \
                and isinstance(node.value, ast.Name) and node.value.id in ("sqlalchemy", "sa"):
            found.append((node.lineno, f"sqlalchemy.{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in OWN_SESSIONS:
            found.append((node.lineno, f"{node.func.id}()"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            engine = (isinstance(owner, ast.Attribute) and owner.attr == "engine") or \
                     (isinstance(owner, ast.Name) and owner.id == "engine") or \
                     _calls(owner, "get_bind")
            if name in ("exec_driver_sql", "raw_connection", "connect") or \
                    (name == "begin" and engine) or \
                    (name in ("execute", "scalar", "scalars") and _calls(owner, "connection")):
                found.append((node.lineno, f".{name}()"))
    return found


def test_no_sql_bypasses_the_session_outside_the_reviewed_module():
    offences = []
    for path in sorted([*ROOT.glob("app/**/*.py"), *ROOT.glob("tasks/**/*.py")]):
        relative = path.relative_to(ROOT)
        if relative == REVIEWED:
            continue
        offences += [f"{relative}:{line}: {what}"
                     for line, what in _bypasses(ast.parse(path.read_text()))]
    assert offences == [], ("raw SQL, connections and sessions of their own escape the "
                            "tenant scoping; keep them in app/db.py")


def test_the_scan_sees_what_it_forbids():
    source = ("from sqlalchemy import text\n"
              "db.session.execute(text('SELECT * FROM jobs'))\n"
              "db.session.connection().exec_driver_sql('SELECT 1')\n"
              "with db.engine.connect() as c: pass\n"
              "with db.engine.begin() as c: pass\n"
              "import sqlalchemy\nsqlalchemy.text('x')\n"
              "Session(db.engine)\n"
              "db.session.connection().execute(select(Job))\n"
              "db.session.get_bind().begin()\n"
              "db.session.connection().dialect.name\n"  # reading the dialect is fine
              "with db.session.begin(): pass\n")  # a session's own transaction too
    lines = sorted(line for line, _ in _bypasses(ast.parse(source)))
    assert lines == [1, 3, 4, 5, 7, 8, 9, 10]
    assert _bypasses(ast.parse((ROOT / REVIEWED).read_text()))  # what it reviews is seen
