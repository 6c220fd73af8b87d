"""`taskplane api-keys create|list|revoke` against a live HTTP server, and `--token`."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from app.cli import main


@pytest.fixture
def keys_url(keys_app):
    """The app taking API keys, served over real HTTP on a free port."""
    server = make_server("127.0.0.1", 0, keys_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def run(url, *args, env=None):
    """Invoke `taskplane` with the given environment (identity or token)."""
    return CliRunner().invoke(main, ["--url", url, *args], env=env)


def test_create_use_list_and_revoke_a_key(keys_url, tenant):
    as_admin = {"TASKPLANE_ACTOR": "ada", "TASKPLANE_ROLES": "admin", "TASKPLANE_TENANT": tenant}

    created = run(keys_url, "api-keys", "create", "--name", "ci", "--roles", "viewer",
                  "--actor", "ci-bot", env=as_admin)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("tp_") and "\n" not in key

    submitted = run(keys_url, "--token", key, "submit", "echo", "--project", "p",
                    "--payload", '{"message": "m"}')
    assert submitted.exit_code == 0, submitted.output
    listed = run(keys_url, "api-keys", "list", env=as_admin)
    assert "ci-bot" in listed.output and key[:12] in listed.output and key not in listed.output
    key_id = listed.output.split()[0]

    assert run(keys_url, "api-keys", "revoke", key_id, env=as_admin).exit_code == 0

    refused = run(keys_url, "jobs", "list", env={"TASKPLANE_TOKEN": key})
    assert refused.exit_code == 1 and "401 unauthenticated" in refused.output


def test_only_an_admin_may_create_keys(keys_url, tenant):
    as_viewer = {"TASKPLANE_ACTOR": "vic", "TASKPLANE_ROLES": "viewer", "TASKPLANE_TENANT": tenant}

    result = run(keys_url, "api-keys", "create", "--name", "x", "--roles", "admin", env=as_viewer)

    assert result.exit_code == 1 and "403 forbidden" in result.output
