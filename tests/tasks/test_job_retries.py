"""Retries on a real worker: a retryable failure runs again per the job type's policy."""

from __future__ import annotations


def test_echo_failing_twice_completes_on_third_attempt(worker, alice, job_events):
    job_id = alice.submit("echo", {"message": "third time", "fail_times": 2}).get_json()["id"]

    job = alice.wait_status(job_id, ("completed", "failed"), timeout=30)

    assert job["status"] == "completed"
    assert job["attempts"] == 3
    assert job["error"] is None
    assert [(t["status"], t["attempt"]) for t in job["timeline"]] == [
        ("queued", 0),
        ("running", 1), ("retrying", 1),
        ("running", 2), ("retrying", 2),
        ("running", 3), ("completed", 3),
    ]
    retried = job_events(job_id, type="service_job_retried")
    assert [e["attempt"] for e in retried] == [1, 2]
    assert all("planned failure" in e["data"]["error"] for e in retried)
    assert alice.get(f"/jobs/{job_id}/result").get_json()["result"] == {"message": "third time"}


def test_echo_failing_past_budget_ends_failed_with_attempt_count(worker, alice, job_events):
    job_id = alice.submit("echo", {"message": "never", "fail_times": 10}).get_json()["id"]

    # echo allows 3 retries; backoff with full jitter is at most 1 + 2 + 4 s.
    job = alice.wait_status(job_id, ("completed", "failed"), timeout=30)

    assert job["status"] == "failed"
    assert job["attempts"] == 4
    assert job["max_retries"] == 3
    assert job["error"]["type"] == "RetryableJobError"
    assert job["error"]["attempt"] == 4
    assert job["completed_at"] is not None
    statuses = [t["status"] for t in job["timeline"]]
    assert statuses == ["queued"] + ["running", "retrying"] * 3 + ["running", "failed"]
    events = job_events(job_id)
    assert sum(e["type"] == "service_job_retried" for e in events) == 3
    assert sum(e["type"] == "service_job_failed" for e in events) == 1
    assert alice.get(f"/jobs/{job_id}/result").status_code == 409
