"""Tenant isolation, enforced once: a scoped session sees only its tenant's rows.

`scope_session(session, tenant)` (called once per request, when the principal is
known) makes every ORM query of that session — selects, `session.get`, relationship
loads, ORM-enabled updates and deletes — carry `tenant = :tenant` for every mapped
class that has a `tenant` column, present or future. A foreign id is then exactly
as missing as an absent one, in every service, with no check per view or per query.

Workers and the sweeper use unscoped sessions: they act for the system, not a tenant.
A service that must cross tenants on purpose runs its statement with
`execution_options(**UNSCOPED)`.
"""

from __future__ import annotations

import sqlalchemy.event
from sqlalchemy.orm import Session, with_loader_criteria

from app.db import Base

TENANT_KEY = "taskplane.tenant"  # session.info key: the tenant the session is confined to
UNSCOPED = {"taskplane_unscoped": True}


def scope_session(session, tenant: str) -> None:
    """Confine every later ORM query of `session` (until it is removed) to `tenant`."""
    session.info[TENANT_KEY] = tenant


def session_tenant(session) -> str | None:
    """The tenant `session` is confined to, or None for a system session."""
    return session.info.get(TENANT_KEY)


def tenant_classes() -> list[type]:
    """Every mapped class with a `tenant` column: each is scoped in a tenant's session."""
    return [mapper.class_ for mapper in Base.registry.mappers if "tenant" in mapper.columns]


@sqlalchemy.event.listens_for(Session, "do_orm_execute")
def _confine_to_tenant(state) -> None:
    """Add `tenant = :tenant` to every tenant-owned class an ORM statement touches."""
    tenant = state.session.info.get(TENANT_KEY)
    if tenant is None or state.execution_options.get("taskplane_unscoped"):
        return
    if not state.is_orm_statement or not (state.is_select or state.is_update
                                          or state.is_delete):
        return  # statements on bare tables carry no loader criteria anyway
    state.statement = state.statement.options(*(
        with_loader_criteria(cls, cls.tenant == tenant, include_aliases=True)
        for cls in tenant_classes()
    ))
