"""The one enforcement point: a tenant-scoped session cannot read or change other tenants' rows."""

from __future__ import annotations

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import ApiKey, GovernanceEvent, Job, JobLog
from app.services.tenancy import UNSCOPED, scope_session, session_tenant, tenant_classes


def test_every_model_with_a_tenant_column_is_scoped():
    scoped = set(tenant_classes())

    assert {Job, GovernanceEvent, ApiKey} <= scoped
    assert JobLog not in scoped  # reached only through its job


def test_a_scoped_session_sees_only_its_tenant(app, caller, tenant):
    job_id = caller("viewer").submit("echo", {"message": "m"}).get_json()["id"]
    key_id = caller("admin").post("/api-keys", json={"name": "k", "roles": ["viewer"]}
                                  ).get_json()["id"]
    session = db.session
    try:
        scope_session(session, f"{tenant}-b")
        assert session_tenant(session) == f"{tenant}-b"

        assert session.get(Job, job_id) is None
        assert session.get(ApiKey, key_id) is None
        assert session.scalars(select(Job).where(Job.id == job_id)).all() == []
        assert session.scalar(select(func.count()).select_from(GovernanceEvent)
                              .where(GovernanceEvent.job_id == job_id)) == 0
        changed = session.execute(update(Job).where(Job.id == job_id).values(priority=0))
        assert changed.rowcount == 0
        session.rollback()

        scope_session(session, tenant)
        assert session.get(Job, job_id).priority == 5

        scope_session(session, f"{tenant}-b")
        unscoped = select(Job.tenant).where(Job.id == job_id).execution_options(**UNSCOPED)
        assert session.scalars(unscoped).one() == tenant
    finally:
        db.session.remove()


def test_a_system_session_is_not_scoped(app, caller):
    job_id = caller("viewer").submit("echo", {"message": "m"}).get_json()["id"]
    try:
        assert session_tenant(db.session) is None
        assert db.session.get(Job, job_id) is not None
    finally:
        db.session.remove()
