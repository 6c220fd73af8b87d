"""Cancel on a real worker: a queued job never runs; a running one stops, processes and all."""

from __future__ import annotations

import time

from tests.harness import wait_until


def test_cancelled_queued_job_never_runs(worker, alice, job_logs, delivery_outcomes):
    # The worker has two pool processes and prefetches one message per process (acks
    # late, prefetch multiplier 1): with both busy on sleep jobs it reserves nothing
    # more, so the next job's message stays in Redis and the job stays `queued` until
    # we have cancelled it.
    sleepers = [alice.submit("sleep", {"seconds": 2}).get_json()["id"] for _ in range(2)]
    for sleeper in sleepers:
        alice.wait_status(sleeper, "running", timeout=15)
    job_id = alice.submit("echo", {"message": "must not run"}).get_json()["id"]
    assert alice.get(f"/jobs/{job_id}").get_json()["status"] == "queued"

    cancelled = alice.post(f"/jobs/{job_id}/cancel")

    assert cancelled.status_code == 202
    assert cancelled.get_json()["status"] == "cancelled"
    for sleeper in sleepers:
        alice.wait_status(sleeper, "completed", timeout=15)
    # The worker has now taken the message and turned it away.
    wait_until(lambda: delivery_outcomes(job_id) == ["skipped"], 15,
               message="the worker to skip the cancelled job")
    job = alice.get(f"/jobs/{job_id}").get_json()
    assert job["status"] == "cancelled"
    assert job["attempts"] == 0
    assert job["started_at"] is None
    assert [t["status"] for t in job["timeline"]] == ["queued", "cancelled"]
    assert job_logs(job_id) == []
    assert alice.post(f"/jobs/{job_id}/cancel").status_code == 409


def test_cancel_running_sleep_job_stops_it_within_seconds(worker, alice, job_events):
    job_id = alice.submit("sleep", {"seconds": 60}).get_json()["id"]
    alice.wait_status(job_id, "running", timeout=15)

    started = time.monotonic()
    response = alice.delete(f"/jobs/{job_id}")
    assert response.status_code == 202
    job = alice.wait_status(job_id, ("cancelled", "completed", "failed"), timeout=10)
    elapsed = time.monotonic() - started

    assert job["status"] == "cancelled"
    assert elapsed < 3, f"cancel took {elapsed:.1f}s"
    assert job["attempts"] == 1
    assert job["completed_at"] is not None
    assert [e["attempt"] for e in job_events(job_id, type="service_job_cancelled")] == [1]


def test_cancel_running_command_kills_its_process_group(worker, alice, printed_pids, pid_alive):
    job_id = alice.submit("py-hang", {}).get_json()["id"]

    command_pid, grandchild_pid = wait_until(lambda: printed_pids(job_id), 20,
                                             message="py-hang to print its pids")
    assert pid_alive(command_pid) and pid_alive(grandchild_pid)

    assert alice.post(f"/jobs/{job_id}/cancel").status_code == 202
    job = alice.wait_status(job_id, ("cancelled", "completed", "failed"), timeout=10)

    assert job["status"] == "cancelled"
    wait_until(lambda: not pid_alive(command_pid) and not pid_alive(grandchild_pid), 5,
               message="the command and its grandchild to be gone")
