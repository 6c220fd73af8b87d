"""Usage counters kept by status changes and repaired by beat's reconcile; Celery settings."""

from __future__ import annotations

from sqlalchemy import func, select, update

import celeryconfig
from app.extensions import db, runtime
from app.models import GovernanceEvent, Job, JobQuota
from app.models.jobs import ACTIVE
from app.services import quotas


def counter(tenant: str, job_type: str) -> int:
    """The stored active counter of the tenant's job type."""
    value = db.session.scalar(select(JobQuota.active).where(JobQuota.tenant == tenant,
                                                            JobQuota.job_type == job_type))
    db.session.rollback()
    return value


def truth(tenant: str, job_type: str) -> int:
    """The tenant's active jobs of the type, counted."""
    value = db.session.scalar(select(func.count()).select_from(Job).where(
        Job.tenant == tenant, Job.job_type == job_type, Job.status.in_(ACTIVE)))
    db.session.rollback()
    return value


def test_the_active_counter_follows_submit_run_fail_cancel_and_retry(
        caller, tenant, worker, completed_job, failed_job, sleeping_job):
    alice = caller("viewer", actor="alice")
    completed_job(alice)
    failed = failed_job(alice)
    sleeping = sleeping_job(alice)
    alice.wait_status(sleeping["id"], "running")
    assert counter(tenant, "sleep") == truth(tenant, "sleep") == 1

    alice.post(f"/jobs/{sleeping['id']}/cancel")
    alice.wait_status(sleeping["id"], "cancelled")
    assert counter(tenant, "sleep") == truth(tenant, "sleep") == 0
    assert counter(tenant, "echo") == truth(tenant, "echo") == 0

    assert alice.post(f"/jobs/{failed['id']}/retry").status_code == 202
    alice.wait_status(failed["id"], "failed")
    assert counter(tenant, "py-exit") == truth(tenant, "py-exit") == 0
    listed = {row["job_type"]: row for row in alice.get("/quotas").get_json()["items"]}
    assert listed["echo"]["active"] == 0 and listed["echo"]["submitted_last_hour"] == 1


def test_reconcile_repairs_drift_and_says_so_once(caller, tenant, sleeping_job):
    alice = caller("viewer", actor="alice")
    sleeping_job(alice)
    db.session.execute(update(JobQuota).where(JobQuota.tenant == tenant,
                                              JobQuota.job_type == "sleep").values(active=7))
    db.session.commit()

    repaired = quotas.reconcile()

    assert {"tenant": tenant, "job_type": "sleep", "counted": 7, "actual": 1} in repaired
    assert counter(tenant, "sleep") == 1
    events = db.session.scalars(select(GovernanceEvent).where(
        GovernanceEvent.tenant == tenant, GovernanceEvent.type == "service_quota_drift")).all()
    assert [(e.job_type, e.data["counted"], e.data["actual"]) for e in events] == [
        ("sleep", 7, 1)]
    db.session.rollback()
    assert [r for r in quotas.reconcile() if r["tenant"] == tenant] == []


def test_beat_runs_the_reconcile():
    schedule = celeryconfig.build(runtime.settings, runtime.catalog)["beat_schedule"]
    entry = schedule["quota-reconcile"]
    assert entry["task"] == "taskplane.quotas.reconcile"
    assert entry["schedule"] == runtime.settings.quota_reconcile_seconds


def test_the_task_sent_event_is_off_unless_asked_for():
    from config.settings import Settings

    assert celeryconfig.build(Settings(), runtime.catalog)["task_send_sent_event"] is False
    on = Settings.from_env({"TASKPLANE_TASK_SENT_EVENT": "true"})
    assert celeryconfig.build(on, runtime.catalog)["task_send_sent_event"] is True
