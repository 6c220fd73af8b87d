"""PostgreSQL refusing connections under load: every accepted job runs exactly once.

A private PostgreSQL cluster is stopped (immediate shutdown, as a crash) three times for
a few seconds while clients submit and read jobs through gunicorn and a worker runs
them. Each run of `py-count` appends its job id to a file, so a second run shows.
"""

from __future__ import annotations

import json
import time

from app.extensions import celery_app
from tests.conftest import Caller
from tests.harness import http_request, wait_until
from tests.tasks.outages import Load

OUTAGES, OUTAGE_SECONDS = 3, 4.0


def test_claims_that_meet_an_outage_are_delivered_again(outage_stack, tenant):
    stack = outage_stack
    worker = stack.worker(paused=True, concurrency=2)
    alice = Caller(stack.app.test_client(), "alice", "viewer", tenant)
    body = {"marker": stack.marker, "seconds": 0.1}
    job_ids = [alice.submit("py-count", body).get_json()["id"] for _ in range(6)]

    stack.postgres.stop()
    worker.consume(celery_app, "default")  # every claim now meets the outage
    wait_until(lambda: worker.log().count("claim of job") >= len(job_ids), 60,
               message="each job's claim to fail")
    stack.postgres.start()

    for job_id in job_ids:  # no sweeper runs here: the messages themselves came back
        assert alice.wait_status(job_id, ("completed", "failed"), 60)["status"] == "completed"
    assert sorted(stack.ran()) == sorted(job_ids)


def test_database_outages_under_load_leave_every_job_completed_once(outage_stack, tenant):
    stack = outage_stack
    postgres, marker = stack.postgres, stack.marker
    stack.worker(queues="default")
    web = stack.web()
    body = {"job_type": "py-count", "project": "proj",
            "payload": {"marker": marker, "seconds": 1.0}}
    with Load(web.port, tenant, [body]) as load:
        for _ in range(OUTAGES):
            # A backlog builds (jobs take 1 s, two at a time).
            load.wait_accepted(15, "jobs accepted between outages")
            postgres.stop()
            time.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to wait for
            postgres.start()
        load.wait_accepted(5, "jobs accepted after the last outage")

    unexpected = [(status, body) for status, body, _retry in load.answers
                  if status not in (200, 202, 503)]
    assert not unexpected, unexpected[:3]
    refused = [(body, retry) for status, body, retry in load.answers if status == 503]
    assert refused, "no request met an outage"
    assert all(body["error"]["code"] == "service_unavailable" and retry == "5"
               and body["error"]["request_id"] for body, retry in refused)

    def all_completed():
        for job_id in load.accepted:
            status, body = http_request(web.port, "GET", f"/jobs/{job_id}",
                                        headers=load.headers)
            if status != 200 or json.loads(body)["status"] != "completed":
                return False
        return True

    wait_until(all_completed, 120, interval=0.5, message="every accepted job to complete")
    ran = stack.ran()
    assert set(load.accepted) <= set(ran)
    twice = {job_id for job_id in ran if ran.count(job_id) > 1}
    assert not twice, f"{len(twice)} jobs ran more than once"
    print(f"{len(load.accepted)} jobs accepted, {len(refused)} of {len(load.answers)} "
          f"requests answered 503, {len(ran)} runs")
