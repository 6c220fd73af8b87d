"""`taskplane quotas` and `taskplane quotas set` against a live HTTP server."""

from __future__ import annotations

import json

from click.testing import CliRunner

from app.cli import main


def run(api_url, tenant, roles, *args):
    """Invoke `taskplane` with the given roles in `tenant`."""
    return CliRunner().invoke(main, ["--url", api_url, "--actor", "cli", "--roles", roles,
                                     "--tenant", tenant, *args])


def test_quotas_set_then_show(api_url, tenant):
    result = run(api_url, tenant, "admin", "quotas", "set", tenant, "sleep",
                 "--max-active", "7", "--max-per-hour", "default")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["job_type"], shown["max_active"], shown["max_per_hour"]) == ("sleep", 7, 1000)
    listing = run(api_url, tenant, "viewer", "quotas")
    assert listing.exit_code == 0, listing.output
    [sleep] = [line for line in listing.output.splitlines() if line.startswith("sleep ")]
    assert sleep.split() == ["sleep", "0/7", "0/1000", "0.0%"]
    assert "artifact storage limit: unlimited" in listing.output


def test_quotas_set_refusals_are_clear(api_url, tenant):
    denied = run(api_url, tenant, "viewer", "quotas", "set", tenant, "sleep", "--max-active", "1")
    assert denied.exit_code == 1 and "403 forbidden" in denied.output
    empty = run(api_url, tenant, "admin", "quotas", "set", tenant, "sleep")
    assert empty.exit_code == 2 and "--max-active" in empty.output
    bad = run(api_url, tenant, "admin", "quotas", "set", tenant, "sleep", "--max-active", "lots")
    assert bad.exit_code == 2 and "whole number" in bad.output
