"""An accepted submit is one transaction whose cost does not grow with the tenant's history."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert

from app.db import utcnow
from app.extensions import db
from app.models import Job
from tests.harness import counted_sql as statements


def history(tenant: str, n: int) -> None:
    """`n` completed echo jobs of `tenant` created within the last hour, inserted in bulk."""
    now = utcnow()
    rows = [dict(id=str(uuid.uuid4()), job_type="echo", status="completed", tenant=tenant,
                 project="old", actor="alice", payload={}, priority=5, progress=1.0,
                 attempts=1, max_retries=1, cancel_requested=False,
                 created_at=now - dt.timedelta(seconds=i % 3000), updated_at=now)
            for i in range(n)]
    db.session.execute(insert(Job.__table__), rows)
    db.session.commit()


def submit(who):
    return who.post("/jobs", json={"job_type": "echo", "payload": {"message": "x"},
                                   "project": "proj"})


def test_an_accepted_submit_is_one_commit_and_reads_no_job_rows(caller):
    alice = caller("viewer", actor="alice")
    assert submit(alice).status_code == 202  # the quota row exists from here on

    with statements(db.engine) as seen:
        response = submit(alice)

    assert response.status_code == 202
    assert seen["commits"] == 1
    reads = [sql for sql in seen["sql"] if sql.lstrip().upper().startswith("SELECT")]
    assert not [sql for sql in reads if "FROM jobs" in sql], reads
    written = " ".join(sql for sql in seen["sql"] if sql.lstrip().upper().startswith("INSERT"))
    for table in ("jobs", "job_transitions", "events", "audit_log"):
        assert f"INSERT INTO {table} " in written


def test_submit_runs_the_same_statements_whatever_the_tenants_history(caller, tenant):
    alice = caller("viewer", actor="alice")
    assert submit(alice).status_code == 202
    with statements(db.engine) as fresh:
        assert submit(alice).status_code == 202

    history(tenant, 3000)
    with statements(db.engine) as loaded:
        assert submit(alice).status_code == 202

    assert loaded["sql"] == fresh["sql"]
    usage = alice.get("/quotas").get_json()
    echo = next(row for row in usage["items"] if row["job_type"] == "echo")
    assert echo["submitted_last_hour"] == 3  # the bulk rows bypassed admission: not counted
