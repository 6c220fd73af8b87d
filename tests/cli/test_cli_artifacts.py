"""`taskplane artifacts push|pull|list|show|url` against a live HTTP server."""

from __future__ import annotations

import json
import os

import requests
from click.testing import CliRunner

from app.cli import main


def run(api_url, tenant, *args, roles: str = "publisher"):
    """Invoke `taskplane` as a publisher of `tenant`."""
    return CliRunner().invoke(main, ["--url", api_url, "--actor", "cli", "--roles", roles,
                                     "--tenant", tenant, *args])


def _json(output: str) -> dict:
    return json.loads(output[output.index("{"):])


def test_push_list_show_pull_and_url(api_url, tenant, tmp_path):
    source = tmp_path / "build.tar"
    data = os.urandom(2 * 1024 * 1024 + 3)  # over the JSON body limit: streamed
    source.write_bytes(data)
    pushed = run(api_url, tenant, "artifacts", "push", str(source), "--type", "build",
                 "--project", "web", "--metadata", '{"commit": "abc"}')
    assert pushed.exit_code == 0, pushed.output
    artifact = _json(pushed.output)
    assert (artifact["name"], artifact["size"], artifact["version"]) == ("build.tar",
                                                                         len(data), 1)
    assert artifact["metadata"] == {"commit": "abc"} and artifact["project"] == "web"

    listed = run(api_url, tenant, "artifacts", "list", "--type", "build")
    assert artifact["id"] in listed.output and "build.tar" in listed.output
    shown = run(api_url, tenant, "artifacts", "show", artifact["id"], roles="viewer")
    assert _json(shown.output)["digest"] == artifact["digest"]

    target = tmp_path / "copy.tar"
    pulled = run(api_url, tenant, "artifacts", "pull", artifact["id"], "-o", str(target),
                 roles="viewer")
    assert pulled.exit_code == 0, pulled.output
    assert target.read_bytes() == data

    link = _json(run(api_url, tenant, "artifacts", "url", artifact["id"], "--expires-in",
                     "60", roles="viewer").output)
    assert requests.get(link["url"], timeout=10).content == data  # no credentials


def test_pull_without_output_writes_only_a_base_name(api_url, tenant, tmp_path,
                                                      monkeypatch):
    source = tmp_path / "x"
    source.write_bytes(b"payload")
    artifact = _json(run(api_url, tenant, "artifacts", "push", str(source), "--name",
                         "../../escape.txt").output)
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    result = run(api_url, tenant, "artifacts", "pull", artifact["id"], roles="viewer")
    assert result.exit_code == 0, result.output
    assert (folder / "escape.txt").read_bytes() == b"payload"
    assert not (tmp_path / "escape.txt").exists()


def test_viewer_cannot_push(api_url, tenant, tmp_path):
    source = tmp_path / "x"
    source.write_bytes(b"1")
    result = run(api_url, tenant, "artifacts", "push", str(source), roles="viewer")
    assert result.exit_code == 1 and "403 forbidden" in result.output
