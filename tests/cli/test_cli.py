"""The `taskplane` command against a live HTTP server and a real worker."""

from __future__ import annotations

import json

from click.testing import CliRunner

from app.cli import main


def run(api_url, tenant, *args):
    """Invoke `taskplane` as a viewer of `tenant`."""
    return CliRunner().invoke(main, ["--url", api_url, "--actor", "cli", "--roles", "viewer",
                                     "--tenant", tenant, *args])


def test_submit_wait_prints_completed_job_and_exits_zero(worker, api_url, tenant):
    result = run(api_url, tenant, "submit", "echo", "--project", "cli",
                 "--payload", '{"message": "from the cli"}', "--wait")
    assert result.exit_code == 0, result.output
    job_id = result.output.splitlines()[0]
    shown = json.loads(result.output[result.output.index("{"):])
    assert shown["id"] == job_id and shown["status"] == "completed"
    logs = run(api_url, tenant, "jobs", "logs", job_id)
    assert "from the cli" in logs.output
    listed = run(api_url, tenant, "jobs", "list", "--status", "completed")
    assert job_id in listed.output


def test_submit_follow_streams_logs_and_fails_on_failed_job(worker, api_url, tenant):
    result = run(api_url, tenant, "submit", "py-exit", "--project", "cli",
                 "--payload", '{"status": 4}', "--follow")
    assert result.exit_code == 1
    assert "exited with status 4" in result.output
    assert '"status": "failed"' in result.output


def test_api_errors_become_a_clear_message(api_url, tenant):
    result = run(api_url, tenant, "submit", "no-such-type", "--project", "cli")
    assert result.exit_code == 1
    assert "422 validation_failed" in result.output
    bad = run(api_url, tenant, "submit", "echo", "--project", "cli", "--payload", "{nope")
    assert bad.exit_code == 2 and "not JSON" in bad.output


def test_jobs_show_result_cancel_and_retry(worker, api_url, tenant):
    submitted = run(api_url, tenant, "submit", "echo", "--project", "cli",
                    "--payload", '{"message": "kept"}', "--wait")
    job_id = submitted.output.splitlines()[0]

    shown = run(api_url, tenant, "jobs", "show", job_id)
    assert shown.exit_code == 0 and json.loads(shown.output)["status"] == "completed"
    result = run(api_url, tenant, "jobs", "result", job_id)
    assert json.loads(result.output) == {"message": "kept"}
    cancel = run(api_url, tenant, "jobs", "cancel", job_id)
    assert cancel.exit_code == 1 and "409 conflict" in cancel.output
    retry = run(api_url, tenant, "jobs", "retry", job_id)
    assert retry.exit_code == 1 and "409 conflict" in retry.output
    missing = run(api_url, tenant, "jobs", "show", "no-such-job")
    assert missing.exit_code == 1 and "404 not_found" in missing.output
