"""Every job ends: a job that kills its worker, and a cancel whose worker was killed.

Each test runs its own worker (and beat) on a broker database of its own
(`private_stack`), kills real processes, and reads the broker's lists and hashes
to show that recovery added no copy of the job's message.
"""

from __future__ import annotations

import signal
import time

from tests.harness import wait_until

TERMINAL = ("completed", "failed", "cancelled")


def test_poison_job_ends_failed_worker_lost_after_its_budget(private_stack, job_events):
    worker = private_stack.worker("default")
    alice = private_stack.caller()

    job_id = alice.submit("py-poison", {}).get_json()["id"]

    job = alice.wait_status(job_id, TERMINAL, timeout=60)
    assert job["status"] == "failed"
    assert job["max_retries"] == 1
    assert job["attempts"] == 2  # the first lost attempt was retried, the second was the last
    assert job["error"]["type"] == "worker_lost"
    assert job["error"]["attempt"] == 2
    assert [(t["status"], t["attempt"]) for t in job["timeline"]] == [
        ("queued", 0), ("running", 1), ("running", 2), ("failed", 2)]
    events = [e["type"] for e in job_events(job_id)]
    assert events.count("service_job_started") == 2
    assert events.count("service_job_failed") == 1
    # Two pool processes died, no more: the job did not loop.
    assert worker.log().count("exited with 'signal 9 (SIGKILL)'") == 2
    wait_until(lambda: len(worker.pool_pids()) == 2, 15, message="the pool to be whole again")

    # The worker goes on serving other jobs.
    echo_id = alice.submit("echo", {"message": "still here"}).get_json()["id"]
    assert alice.wait_status(echo_id, TERMINAL, timeout=30)["status"] == "completed"
    wait_until(lambda: private_stack.copies(job_id) == {}, 10,
               message="the poison job's last message to be acked")


def cancel_ends_without_its_worker(stack, alice, job_id: str, started: float) -> dict:
    """Wait for the job to end `cancelled` by the sweeper; check the quota and the broker."""
    job = alice.wait_status(job_id, TERMINAL, timeout=40)
    elapsed = time.monotonic() - started
    assert job["status"] == "cancelled"
    assert job["attempts"] == 1
    assert job["timeline"][-1]["detail"] == "cancelled; the worker of attempt 1 was lost"
    lease = stack.settings["job_lease_seconds"]
    print(f"cancelled {elapsed:.1f}s after the kill")
    assert elapsed < lease + 1 + 5, f"cancelled {elapsed:.1f}s after the kill"  # sweep: 1 s
    quotas = alice.get("/quotas").get_json()["items"]
    assert [q["active"] for q in quotas if q["job_type"] == "sleep"] == [0]

    # Nothing was published while the job waited: only the dead worker's reservation is left.
    assert stack.copies(job_id) == {"unacked": 1}
    # When it comes back (after the visibility timeout), it is turned away.
    assert stack.restore_reserved(job_id) == 1
    survivor = stack.worker("default")
    wait_until(lambda: f"[{job_id}] succeeded" in survivor.log(), 30,
               message="the restored message to be delivered")
    assert "'outcome': 'skipped'" in survivor.log()
    wait_until(lambda: stack.copies(job_id) == {}, 10, message="the broker to hold no copy")
    job = alice.get(f"/jobs/{job_id}").get_json()
    assert (job["status"], job["attempts"]) == ("cancelled", 1)
    return job


def test_cancel_then_kill_9_ends_cancelled_once_the_lease_lapses(private_stack):
    stack = private_stack
    victim = stack.worker("default", concurrency=1)
    stack.worker("control")  # runs the sweep beat sends; takes no job message
    stack.beat()
    alice = stack.caller()
    job_id = alice.submit("sleep", {"seconds": 120}).get_json()["id"]
    alice.wait_status(job_id, "running", timeout=20)

    victim.signal_group(signal.SIGSTOP)  # it cannot see the cancel before it dies
    assert alice.post(f"/jobs/{job_id}/cancel").status_code == 202
    started = time.monotonic()
    victim.kill()

    cancel_ends_without_its_worker(stack, alice, job_id, started)


def test_kill_9_then_cancel_ends_cancelled_once_the_lease_lapses(private_stack):
    stack = private_stack
    victim = stack.worker("default", concurrency=1)
    stack.worker("control")
    stack.beat()
    alice = stack.caller()
    job_id = alice.submit("sleep", {"seconds": 120}).get_json()["id"]
    alice.wait_status(job_id, "running", timeout=20)

    victim.kill()
    started = time.monotonic()
    response = alice.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 202
    assert response.get_json()["status"] == "running"  # it ends once its lease lapses

    cancel_ends_without_its_worker(stack, alice, job_id, started)
