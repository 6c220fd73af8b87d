"""A pool process killed mid-job: the message comes back and the job runs again, once."""

from __future__ import annotations

import os
import signal

from app.extensions import celery_app
from tests.harness import wait_until


def pool_pid_running(worker, job_id: str) -> int | None:
    """The pid of the pool process executing the job's task, as the worker reports it."""
    replies = celery_app.control.inspect(destination=[worker.hostname], timeout=1).active() or {}
    for task in replies.get(worker.hostname, []):
        if task["id"] == job_id:
            return task["worker_pid"]
    return None


def test_job_of_killed_pool_process_runs_again_and_completes_once(
        worker, alice, job_events, job_logs, delivery_outcomes):
    # Long enough that the job is surely still running when the pool process dies.
    job_id = alice.submit("sleep", {"seconds": 4}).get_json()["id"]
    alice.wait_status(job_id, "running", timeout=15)
    pid = wait_until(lambda: pool_pid_running(worker, job_id), 10,
                     message="the worker to report the job's pool process")
    assert pid in worker.pool_pids()

    os.kill(pid, signal.SIGKILL)

    # reject_on_worker_lost requeues the message; the new delivery waits out the dead
    # attempt's lease (3 s in tests) and then claims attempt 2.
    job = alice.wait_status(job_id, ("completed", "failed", "cancelled"), timeout=30)
    assert job["status"] == "completed"
    assert job["attempts"] == 2
    assert [(t["status"], t["attempt"]) for t in job["timeline"]] == [
        ("queued", 0), ("running", 1), ("running", 2), ("completed", 2)]
    events = [e["type"] for e in job_events(job_id)]
    assert events.count("service_job_started") == 2
    assert events.count("service_job_completed") == 1
    assert delivery_outcomes(job_id).count("completed") == 1
    messages = [(entry["attempt"], entry["message"]) for entry in job_logs(job_id)]
    assert messages[-2:] == [(2, "sleeping 4.0s"), (2, "done")]
    assert (1, "done") not in messages
    # The worker replaced the killed process; later tests get both again.
    wait_until(lambda: len(worker.pool_pids()) == 2 and pid not in worker.pool_pids(), 15,
               message="the pool to replace the killed process")
