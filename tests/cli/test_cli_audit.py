"""`taskplane audit`: the tenant's audit log from the shell."""

from __future__ import annotations

from click.testing import CliRunner

from app.cli import main


def run(api_url, tenant, roles, *args):
    """Invoke `taskplane` as `cli` with `roles` in `tenant`, giving a reason."""
    return CliRunner().invoke(main, ["--url", api_url, "--actor", "cli", "--roles", roles,
                                     "--tenant", tenant, "--reason", "change-77", *args])


def test_audit_lists_records_with_filters(api_url, tenant):
    assert run(api_url, tenant, "viewer", "submit", "echo", "--project", "cli",
               "--payload", '{"message": 3}').exit_code == 1  # 422, audited as failed
    assert run(api_url, tenant, "viewer", "jobs", "cancel", "no-such-job").exit_code == 1

    listed = run(api_url, tenant, "operator", "audit")
    denied = run(api_url, tenant, "operator", "audit", "--outcome", "denied")

    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[1:5] == ["denied", "404", "jobs.cancel", "no-such-job"]
    assert lines[1].split()[1:5] == ["failed", "422", "jobs.submit", "-"]
    assert all(line.split()[-2:] == ["cli", "change-77"] for line in lines)
    assert denied.output.splitlines() == lines[:1]


def test_audit_as_a_viewer_is_a_clear_403(api_url, tenant):
    result = run(api_url, tenant, "viewer", "audit")

    assert result.exit_code == 1
    assert "403 forbidden" in result.output
