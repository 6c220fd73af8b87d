"""Built-in job types: each module declares its type beside its payload schema and handler."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from config.catalog import builtin_types
from tests.conftest import ROOT, worker_env

WORKER_ONLY = ("tasks.celery", "tasks.runner", "tasks.context", "tasks.command",
               "tasks.signals", "tasks.sweeper", "tasks.telemetry")


@pytest.mark.parametrize("spec", builtin_types(), ids=lambda spec: spec.name)
def test_a_builtin_type_is_declared_beside_its_payload_schema_and_handler(spec):
    module_name, _, function = spec.handler.partition(":")
    module = importlib.import_module(module_name)

    assert module_name.startswith("tasks.builtin.")
    assert module.JOB_TYPE is spec
    assert spec.payload_schema.__module__ == module_name
    assert function == "run" and callable(module.run)


def test_the_web_process_loads_the_builtin_modules_but_no_worker_only_module(settings):
    probe = ("import sys; from app import create_app; create_app(); "
             "print('loaded:', *sorted(m for m in sys.modules if m.split('.')[0] == 'tasks'))")
    done = subprocess.run([sys.executable, "-c", probe], env=worker_env(settings), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("loaded:"))
    loaded = set(line.split()[1:])

    assert {spec.handler.partition(":")[0] for spec in builtin_types()} <= loaded
    assert loaded.isdisjoint(WORKER_ONLY)
    assert {m for m in loaded if not m.startswith("tasks.builtin")} == {"tasks", "tasks.errors"}
