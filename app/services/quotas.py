"""Quotas: per tenant and job type, active jobs and hourly submissions; per tenant, storage.

Admission is one transaction per submission that first locks the tenant's quota row of
the job type (`SELECT … FOR UPDATE` on PostgreSQL; on SQLite the transaction opens with
`BEGIN IMMEDIATE`, which takes the database's write lock at once), then reads the usage,
decides and inserts the job. Submissions of one tenant and job type are therefore decided
one at a time, whichever API process or host takes them: N concurrent submissions against
a quota of K admit exactly K.

Usage is read from counters, never counted over `jobs`, so a submit costs the same
whatever the tenant's history: the quota row's `active` (changed in the transaction of
every status change that moves a job in or out of the active set, see `count_change`)
and per-minute submission buckets (`job_submissions`), of which the last hour's are
summed. A bucket leaves the window an hour after its minute began, so a submission
counts for 59 to 60 minutes. `reconcile` compares `active` with the jobs themselves,
repairs drift and says so with a `service_quota_drift` event.

A quota row's `alert_level` remembers the last usage threshold crossed (0, 80 or 100
percent); an admission that raises it emits `service_quota_warning` (80 %) and
`service_quota_exhausted` (100 %, `severity: page`) once each, and one that finds usage
back below re-arms them.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import math

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.auth import Principal
from app.db import begin_locking, utcnow
from app.errors import NotFound, QuotaExceeded
from app.extensions import db, runtime
from app.models import ArtifactManifest, Job, JobQuota, JobSubmissions, TenantQuota
from app.models.jobs import ACTIVE, active_change
from app.services import events
from config.catalog import JobType

QUOTAS, SUBMISSIONS = JobQuota.__table__, JobSubmissions.__table__
WINDOW = dt.timedelta(hours=1)
WARNING, EXHAUSTED = 80, 100
# When an active job ends nobody knows: a client refused on `max_active` polls this often.
ACTIVE_RETRY_AFTER = 30


@dataclasses.dataclass(frozen=True)
class Usage:
    """A tenant's limits and usage of one job type."""

    job_type: str
    max_active: int
    active: int
    max_per_hour: int
    submitted_last_hour: int

    @property
    def percent(self) -> float:
        """The higher of the two usages, in percent of its limit."""
        return round(max(_percent(self.active, self.max_active),
                         _percent(self.submitted_last_hour, self.max_per_hour)), 1)

    def with_one_more(self, submission: bool = True) -> Usage:
        """The usage once one more job is active (and, for a submission, submitted)."""
        return dataclasses.replace(self, active=self.active + 1,
                                   submitted_last_hour=self.submitted_last_hour + submission)


def _percent(used: int, limit: int) -> float:
    return 100.0 if limit <= 0 else 100.0 * used / limit


def _level(percent: float) -> int:
    return EXHAUSTED if percent >= EXHAUSTED else WARNING if percent >= WARNING else 0


def _insert(session):
    """The dialect's INSERT, which knows `ON CONFLICT`."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _minute(at: dt.datetime) -> dt.datetime:
    return at.replace(second=0, microsecond=0)


def _buckets(session, tenant: str, job_type: str | None, now: dt.datetime):
    """The rolling hour's submission buckets of the tenant (of one type, unless None)."""
    where = [SUBMISSIONS.c.tenant == tenant, SUBMISSIONS.c.minute > now - WINDOW]
    if job_type is not None:
        where.append(SUBMISSIONS.c.job_type == job_type)
    return session.execute(select(SUBMISSIONS.c.job_type, SUBMISSIONS.c.minute,
                                  SUBMISSIONS.c.count).where(*where)).all()


def _usage(spec: JobType, row, submitted: int) -> Usage:
    """Limits (`row`'s overrides, else the catalog's) and usage (`row`'s active counter)."""
    max_active, per_hour = _limits(spec, row)
    return Usage(spec.name, max_active, row.active if row else 0, per_hour, submitted)


def _limits(spec: JobType, row) -> tuple[int, int]:
    """`max_active` and `max_per_hour`: `row`'s overrides, else the catalog's defaults."""
    max_active = row.max_active if row and row.max_active is not None else spec.max_active
    per_hour = row.max_per_hour if row and row.max_per_hour is not None else spec.max_per_hour
    return max_active, per_hour


def usage_fractions() -> dict[tuple[str, str, str], float]:
    """Every tenant's usage of each quota as a fraction of its limit, in one grouped query.

    Keys are `(tenant, job_type, quota)` with quota `max_active` or `max_per_hour`; only
    pairs with an active job or a submission in the last hour appear (others are at 0).
    Read at scrape time by `/metrics`, across tenants: the caller's session is unscoped.
    """
    since = utcnow() - WINDOW
    recent = Job.created_at >= since
    rows = db.session.execute(
        select(Job.tenant, Job.job_type,
               func.sum(case((Job.status.in_(ACTIVE), 1), else_=0)).label("active"),
               func.sum(case((recent, 1), else_=0)).label("hourly"),
               JobQuota.max_active, JobQuota.max_per_hour)
        .outerjoin(JobQuota, (JobQuota.tenant == Job.tenant)
                   & (JobQuota.job_type == Job.job_type))
        .where(Job.status.in_(ACTIVE) | recent)
        .group_by(Job.tenant, Job.job_type, JobQuota.max_active, JobQuota.max_per_hour))
    fractions = {}
    for row in rows:
        spec = runtime.catalog.get(row.job_type)
        if spec is None:
            continue
        max_active, per_hour = _limits(spec, row)
        key = (row.tenant, row.job_type)
        fractions[(*key, "max_active")] = _percent(row.active, max_active) / 100
        fractions[(*key, "max_per_hour")] = _percent(row.hourly, per_hour) / 100
    db.session.rollback()
    return fractions


def count_change(session, job) -> None:
    """Keep the active counter of `job`'s tenant and type, as `job` enters its status.

    Called in the transaction of every status change (submit included), so the counter
    commits or rolls back with the change itself.
    """
    change = active_change(job.status)
    if change:
        session.execute(update(QUOTAS).where(*_key(job.tenant, job.job_type))
                        .values(active=QUOTAS.c.active + change))


def _count_submission(session, tenant: str, job_type: str, now: dt.datetime) -> None:
    """One more submission in the current minute's bucket."""
    stmt = _insert(session)(SUBMISSIONS).values(tenant=tenant, job_type=job_type,
                                                minute=_minute(now), count=1)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["tenant", "job_type", "minute"],
        set_={"count": SUBMISSIONS.c.count + 1}))


def _lock_row(session, table, where: tuple, values: dict):
    """Open an admission transaction holding `table`'s row `where` (made from `values`).

    Whatever the session read before is committed first, so that on SQLite the
    transaction can open with `BEGIN IMMEDIATE`; on PostgreSQL the row is locked
    `FOR UPDATE`. Either way concurrent admissions of the same row queue until commit.
    """
    begin_locking(session)
    locked = select(table).where(*where).with_for_update()
    row = session.execute(locked).one_or_none()
    if row is None:
        session.execute(_insert(session)(table).values(**values, updated_at=utcnow())
                        .on_conflict_do_nothing())
        row = session.execute(locked).one()
    return row


def lock(session, tenant: str, job_type: str):
    """Open the admission transaction of a job: lock the tenant's quota row of the type."""
    return _lock_row(session, QUOTAS, _key(tenant, job_type),
                     {"tenant": tenant, "job_type": job_type, "alert_level": 0})


def lock_storage(session, tenant: str):
    """Open the admission transaction of artifact bytes: lock the tenant's storage row."""
    return _lock_row(session, TenantQuota.__table__,
                     (TenantQuota.__table__.c.tenant == tenant,), {"tenant": tenant})


def _key(tenant: str, job_type: str) -> tuple:
    return (QUOTAS.c.tenant == tenant, QUOTAS.c.job_type == job_type)


def admit_job(session, quota, principal: Principal, spec: JobType,
              project: str, *, submission: bool = True) -> None:
    """Admit one more active job of `spec` under the `quota` row `lock` returned, or refuse.

    Call it inside that transaction, then store the job and commit. A new submission
    counts against `max_active` and `max_per_hour`; a retried job (`submission=False`)
    only against `max_active`. A refusal commits its `service_job_quota_exceeded` event
    (nothing else) and raises `QuotaExceeded`.
    """
    now = utcnow()
    buckets = _buckets(session, quota.tenant, spec.name, now)
    usage = _usage(spec, quota, sum(bucket.count for bucket in buckets))
    who = dict(tenant=quota.tenant, actor=principal.actor, project=project,
               job_type=spec.name)
    refusal = _refusal(usage, buckets, now, submission)
    if refusal is None:
        _announce(session, quota, usage.with_one_more(submission), who)
        if submission:
            _count_submission(session, quota.tenant, spec.name, now)
        return
    _announce(session, quota, usage, who)
    data = {key: value for key, value in refusal.items() if key != "job_type"}
    events.emit(session, "service_job_quota_exceeded", **who, reason=principal.reason, **data)
    session.commit()  # the event's warning log line follows the commit
    raise QuotaExceeded(f"quota {refusal['quota']} of {spec.name!r} exceeded "
                        f"({refusal['usage']}/{refusal['limit']})", details=refusal,
                        headers={"Retry-After": str(refusal["retry_after"])})


def _refusal(usage: Usage, buckets, now: dt.datetime, submission: bool) -> dict | None:
    """The details of the limit one more job would break, or None when it fits."""
    if usage.active >= usage.max_active:
        return {"job_type": usage.job_type, "quota": "max_active", "limit": usage.max_active,
                "usage": usage.active, "window": None, "retry_after": ACTIVE_RETRY_AFTER}
    if submission and usage.submitted_last_hour >= usage.max_per_hour:
        return {"job_type": usage.job_type, "quota": "max_per_hour",
                "limit": usage.max_per_hour, "usage": usage.submitted_last_hour,
                "window": "PT1H", "retry_after": _hourly_retry_after(usage, buckets, now)}
    return None


def _hourly_retry_after(usage: Usage, buckets, now: dt.datetime) -> int:
    """Seconds until enough of the last hour's buckets leave the window for one more."""
    leaving = usage.submitted_last_hour - usage.max_per_hour + 1
    for bucket in sorted(buckets, key=lambda b: b.minute):
        leaving -= bucket.count
        if leaving <= 0 and usage.max_per_hour > 0:
            return max(1, math.ceil((bucket.minute + WINDOW - now).total_seconds()))
    return int(WINDOW.total_seconds())


def _announce(session, quota, usage: Usage, who: dict) -> None:
    """Emit the threshold events `usage` crosses upward; store the level it is at."""
    level = _level(usage.percent)
    data = dict(percent=usage.percent, max_active=usage.max_active, active=usage.active,
                max_per_hour=usage.max_per_hour,
                submitted_last_hour=usage.submitted_last_hour)
    if quota.alert_level < WARNING <= level:
        events.emit(session, "service_quota_warning", **who, severity="warning", **data)
    if quota.alert_level < EXHAUSTED <= level:
        events.emit(session, "service_quota_exhausted", **who, severity="page", **data)
    if level != quota.alert_level:
        session.execute(update(QUOTAS).where(*_key(quota.tenant, quota.job_type))
                        .values(alert_level=level))


def _spec(job_type: str) -> JobType:
    spec = runtime.catalog.get(job_type)
    if spec is None:
        raise NotFound("unknown job type", details={"job_type": job_type})
    return spec


def _own_tenant(principal: Principal, tenant: str) -> None:
    """Only the caller's own tenant; any other tenant is as missing as a missing one."""
    if tenant != principal.tenant:
        raise NotFound("tenant not found", details={"tenant": tenant})


def list_quotas(principal: Principal) -> list[Usage]:
    """The caller's tenant's limits and usage for every job type of the catalog."""
    session = db.session
    rows = {row.job_type: row for row in session.execute(select(QUOTAS))}
    submitted = collections.Counter()
    for bucket in _buckets(session, principal.tenant, None, utcnow()):
        submitted[bucket.job_type] += bucket.count
    return [_usage(spec, rows.get(name), submitted[name])
            for name, spec in sorted(runtime.catalog.items())]


def set_limits(principal: Principal, tenant: str, job_type: str, changes: dict) -> Usage:
    """Set `max_active` / `max_per_hour` of a job type for the admin's own tenant.

    A field left out stays as it is; null puts the catalog's default back.
    """
    _own_tenant(principal, tenant)
    spec = _spec(job_type)
    session = db.session
    lock(session, tenant, job_type)
    limits = {name: changes[name] for name in ("max_active", "max_per_hour") if name in changes}
    session.execute(update(QUOTAS).where(*_key(tenant, job_type))
                    .values(**limits, updated_at=utcnow()))
    session.commit()
    row = session.execute(select(QUOTAS).where(*_key(tenant, job_type))).one()
    buckets = _buckets(session, tenant, job_type, utcnow())
    return _usage(spec, row, sum(bucket.count for bucket in buckets))


def reconcile(now: dt.datetime | None = None) -> list[dict]:
    """Compare every active counter with the jobs, repair drift; old buckets are dropped.

    Each row is checked under its admission lock, so no submission or status change of
    that tenant and type runs between the count and the repair. Every repaired counter
    emits `service_quota_drift` (a warning) and is returned.
    """
    session = db.session
    now = now or utcnow()
    session.execute(delete(SUBMISSIONS).where(SUBMISSIONS.c.minute <= now - WINDOW))
    session.commit()
    repaired = []
    keys = session.execute(select(QUOTAS.c.tenant, QUOTAS.c.job_type)).all()
    session.rollback()
    for tenant, job_type in keys:
        row = lock(session, tenant, job_type)
        truth = session.scalar(select(func.count()).where(
            Job.tenant == tenant, Job.job_type == job_type, Job.status.in_(ACTIVE)))
        if truth == row.active:
            session.rollback()
            continue
        drift = {"tenant": tenant, "job_type": job_type, "counted": row.active,
                 "actual": truth}
        session.execute(update(QUOTAS).where(*_key(tenant, job_type)).values(active=truth))
        events.emit(session, "service_quota_drift", tenant=tenant, job_type=job_type,
                    severity="warning", counted=row.active, actual=truth)
        session.commit()
        repaired.append(drift)
    return repaired


def storage_limit(session, tenant: str) -> int | None:
    """The tenant's artifact storage limit in bytes: its override, else the setting; None: none.

    `TASKPLANE_ARTIFACT_QUOTA_BYTES` and an override of 0 both mean unlimited.
    """
    override = session.scalar(select(TenantQuota.max_artifact_bytes)
                              .where(TenantQuota.tenant == tenant))
    limit = override if override is not None else runtime.settings.artifact_quota_bytes
    return limit or None


def storage_used(session, tenant: str) -> int:
    """Bytes the tenant's artifact versions take now (every stored version counts)."""
    total = session.scalar(select(func.coalesce(func.sum(ArtifactManifest.size), 0))
                           .where(ArtifactManifest.tenant == tenant))
    return int(total or 0)


def admit_bytes(session, tenant: str, extra: int) -> None:
    """Raise `QuotaExceeded` (429) when `extra` more bytes would pass the tenant's limit."""
    limit = storage_limit(session, tenant)
    if limit is None:
        return
    usage = storage_used(session, tenant)
    if usage + extra > limit:
        raise QuotaExceeded("artifact storage limit reached",
                            details={"limit": limit, "usage": usage, "requested": extra})


def storage(session, tenant: str) -> dict:
    """The tenant's storage limit and usage as the API shows them."""
    limit, used = storage_limit(session, tenant), storage_used(session, tenant)
    percent = None if limit is None else round(100.0 * used / limit, 1)
    return {"max_artifact_bytes": limit, "used_bytes": used, "percent": percent}


def tenant_storage(principal: Principal) -> dict:
    """The caller's tenant's storage limit and usage."""
    return storage(db.session, principal.tenant)


def set_storage_limit(principal: Principal, tenant: str, max_artifact_bytes: int | None) -> dict:
    """Override the admin's own tenant's storage limit (0: unlimited; null: the setting)."""
    _own_tenant(principal, tenant)
    session = db.session
    values = {"max_artifact_bytes": max_artifact_bytes, "updated_at": utcnow()}
    session.execute(_insert(session)(TenantQuota).values(tenant=tenant, **values)
                    .on_conflict_do_update(index_elements=["tenant"], set_=values))
    session.commit()
    return storage(session, tenant)
