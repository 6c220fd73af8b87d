"""Admission is atomic across API processes: 200 concurrent submits against `max_active` 10."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import GovernanceEvent, Job
from app.services.quotas import ACTIVE
from tests.conftest import worker_env
from tests.harness import Gunicorn, http_request

SUBMITS, LIMIT = 200, 10


@pytest.fixture(scope="module")
def two_apis(settings, tmp_path_factory):
    """Two gunicorn instances (2 sync workers each) sharing the session's database and broker."""
    env = worker_env(settings)
    folder = tmp_path_factory.mktemp("gunicorn")
    servers = [Gunicorn("app:create_app()", env, folder / f"api-{n}.log") for n in (1, 2)]
    yield servers
    for server in servers:
        server.stop()


@pytest.mark.slow
def test_concurrent_submits_from_two_api_processes_admit_exactly_the_quota(
        two_apis, caller, tenant, app):
    admin = caller("admin", actor="root")
    response = admin.put(f"/quotas/{tenant}/sleep", json={"max_active": LIMIT})
    assert response.status_code == 200
    headers = {"X-Actor": "racer", "X-Roles": "viewer", "X-Tenant": tenant,
               "Content-Type": "application/json"}
    body = json.dumps({"job_type": "sleep", "payload": {"seconds": 600},
                       "project": "race"}).encode()

    def submit(n: int) -> tuple[int, dict]:
        status, data = http_request(two_apis[n % 2].port, "POST", "/jobs", body, headers,
                                    timeout=60)
        return status, json.loads(data)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(submit, range(SUBMITS)))
    elapsed = time.monotonic() - started

    admitted = [data["id"] for status, data in answers if status == 202]
    refused = [data["error"] for status, data in answers if status == 429]
    try:
        print(f"\nquota race: {SUBMITS} submits over 2 API processes in {elapsed:.2f}s, "
              f"{len(admitted)} admitted, {len(refused)} refused")
        assert len(admitted) == LIMIT
        assert len(refused) == SUBMITS - LIMIT
        assert {error["code"] for error in refused} == {"quota_exceeded"}
        assert {error["details"]["usage"] for error in refused} == {LIMIT}
        active = db.session.scalar(select(func.count()).select_from(Job).where(
            Job.tenant == tenant, Job.status.in_(ACTIVE)))
        assert active == LIMIT
        assert db.session.scalar(select(func.count()).select_from(Job)
                                 .where(Job.tenant == tenant)) == LIMIT
        kinds = dict(db.session.execute(
            select(GovernanceEvent.type, func.count()).where(GovernanceEvent.tenant == tenant)
            .group_by(GovernanceEvent.type)).all())
        assert kinds["service_job_quota_exceeded"] == SUBMITS - LIMIT
        assert kinds["service_quota_warning"] == 1
        assert kinds["service_quota_exhausted"] == 1
    finally:
        db.session.rollback()
        for job_id in admitted:
            admin.post(f"/jobs/{job_id}/cancel")
