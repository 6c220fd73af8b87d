"""Two deliveries of one job's message: the job still runs and completes exactly once."""

from __future__ import annotations

import pytest

from app.services import dispatch
from tests.harness import wait_until


def publish_again(app, job: dict) -> None:
    """Send the job's message once more, as a broker redelivery or a second sweep would."""
    with app.app_context():
        dispatch.send_job(job["id"], job["job_type"], job["priority"])


@pytest.mark.parametrize(("job_type", "payload", "lines"), [
    ("echo", {"message": "once"}, ["once"]),
    ("sleep", {"seconds": 1.5}, ["sleeping 1.5s", "done"]),
], ids=["echo", "sleep"])
def test_job_delivered_twice_completes_once(worker, app, alice, job_events, job_logs,
                                            delivery_outcomes,
                                            job_type, payload, lines):
    job = alice.submit(job_type, payload).get_json()
    publish_again(app, job)  # right away: both pool processes may take a copy at once

    alice.wait_status(job["id"], "completed", timeout=20)
    # The other copy is turned away, at once or after waiting out the first one's lease.
    wait_until(lambda: "skipped" in delivery_outcomes(job["id"]), 15,
               message="the duplicate delivery to be skipped")

    outcomes = delivery_outcomes(job["id"])
    assert outcomes.count("completed") == 1, outcomes
    job = alice.get(f"/jobs/{job['id']}").get_json()
    assert job["status"] == "completed"
    assert job["attempts"] == 1
    events = [e["type"] for e in job_events(job["id"])]
    assert events.count("service_job_started") == 1
    assert events.count("service_job_completed") == 1
    assert [entry["message"] for entry in job_logs(job["id"])] == lines
