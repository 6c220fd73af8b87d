"""The bindings and the `taskplane` command start without the server: counted in modules.

Each run is a fresh Python under `-X importtime`, whose report names every module it
imported. Seconds are not asserted (a loaded machine would fail a timed test); the README
gives the start-up times measured apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SERVER = ("flask", "werkzeug", "celery", "kombu", "sqlalchemy", "alembic", "marshmallow",
          "flask_smorest", "app", "config", "tasks", "celeryconfig")
TASKPLANE = str(Path(sys.executable).parent / "taskplane")


def imported(*argv: str, cwd: Path, env: dict | None = None
             ) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules a Python run of `argv` imported (with `env` added), and the run."""
    run = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True,
                         text=True, timeout=120, cwd=cwd, env={**os.environ, **(env or {})})
    modules = {line.split("|")[-1].strip() for line in run.stderr.splitlines()
               if line.startswith("import time:") and line.split("|")[0][12:].strip().isdigit()}
    return modules, run


def server_modules(modules: set[str], allowed: tuple[str, ...] = ()) -> set[str]:
    """Those of `modules` that belong to the server's packages, but for `allowed`."""
    return {name for name in modules if name.split(".")[0] in SERVER
            and not (name in allowed or name.startswith(tuple(f"{a}." for a in allowed)))}


def test_importing_the_bindings_loads_no_server_module(tmp_path):
    modules, run = imported("-c", "import taskplane_client", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "taskplane_client.client" in modules and "requests" in modules
    assert server_modules(modules) == set()


def test_taskplane_help_loads_no_server_module(tmp_path):
    modules, run = imported(TASKPLANE, "--help", cwd=tmp_path)
    assert run.returncode == 0 and "Commands:" in run.stdout, run.stderr[-2000:]
    assert "app.cli.server" in modules  # the server commands are listed...
    assert server_modules(modules, allowed=("app", "app.cli")) == set()  # ...not loaded
    assert "requests" not in modules  # nor is HTTP, before a command talks to the API


@pytest.mark.parametrize("command", [["jobs", "list"], ["quotas"]])
def test_client_commands_load_no_server_module(api_url, tenant, tmp_path, command):
    modules, run = imported(TASKPLANE, "--url", api_url, "--actor", "cli", "--roles", "viewer",
                            "--tenant", tenant, *command, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert server_modules(modules, allowed=("app", "app.cli")) == set()


def test_server_commands_still_load_the_server_when_they_run(tmp_path):
    modules, run = imported(TASKPLANE, "migrate", "--help", cwd=tmp_path)
    assert run.returncode == 0 and "latest schema" in run.stdout
    assert server_modules(modules, allowed=("app", "app.cli")) == set()  # not run: not loaded
    database = tmp_path / "migrated.db"
    modules, run = imported(TASKPLANE, "migrate", cwd=tmp_path,
                            env={"TASKPLANE_DATABASE_URL": f"sqlite:///{database}"})
    assert run.returncode == 0 and "is up to date" in run.stdout, run.stderr[-2000:]
    assert {"alembic", "sqlalchemy", "config.settings", "app.migrate"} <= modules
    assert database.exists()
