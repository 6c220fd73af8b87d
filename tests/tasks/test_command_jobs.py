"""Command job types on a real worker: output becomes logs, exit codes and limits are honoured."""

from __future__ import annotations

from tests.harness import wait_until


def test_command_output_becomes_log_lines_and_result(worker, alice, job_logs):
    job_id = alice.submit("py-lines", {"count": 3, "text": "all good"}).get_json()["id"]

    job = alice.wait_status(job_id, ("completed", "failed"), timeout=20)

    assert job["status"] == "completed", job["error"]
    entries = job_logs(job_id)
    stdout = [e["message"] for e in entries if e["stream"] == "stdout"]
    stderr = [(e["message"], e["level"]) for e in entries if e["stream"] == "stderr"]
    assert stdout == ["line 0", "line 1", "line 2"]
    assert stderr == [("to stderr", "error")]
    assert {e["attempt"] for e in entries} == {1}
    result = alice.get(f"/jobs/{job_id}/result").get_json()["result"]
    [output] = result["outputs"]
    assert result["exit_code"] == 0
    assert (output["name"], output["size"]) == ("report.txt", len("all good"))
    assert output["artifact_id"] and output["digest"].startswith("sha256:")


def test_command_exiting_non_zero_fails_naming_the_status(worker, alice):
    job_id = alice.submit("py-exit", {"status": 3}).get_json()["id"]

    job = alice.wait_status(job_id, ("completed", "failed"), timeout=20)

    assert job["status"] == "failed"
    assert job["attempts"] == 1  # JobError is not retryable
    assert job["error"]["type"] == "JobError"
    assert "exited with status 3" in job["error"]["message"]


def test_command_over_soft_time_limit_fails_and_its_processes_die(
        worker, alice, job_logs, printed_pids, pid_alive):
    job_id = alice.submit("py-hang-limited", {}).get_json()["id"]

    command_pid, grandchild_pid = wait_until(lambda: printed_pids(job_id), 20,
                                             message="py-hang-limited's pids")
    job = alice.wait_status(job_id, ("completed", "failed", "cancelled"), timeout=15)

    assert job["status"] == "failed"
    assert job["error"]["type"] == "SoftTimeLimitExceeded"
    assert job["attempts"] == 1
    assert any("soft time limit of 2s exceeded" in e["message"] for e in job_logs(job_id))
    wait_until(lambda: not pid_alive(command_pid) and not pid_alive(grandchild_pid), 5,
               message="the command and its grandchild to be gone")
