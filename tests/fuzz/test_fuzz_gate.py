"""The fuzz gate: schemathesis over the whole OpenAPI document, against gunicorn + a worker.

Every operation, streaming ones included, is called with a valid identity (header auth,
admin role) and with generated valid and invalid input, against the real stack: gunicorn
started as the Procfile starts it, a Celery worker, Redis, the session's database. The
gate: no server error, no response outside its documented status, media type, schema or
the error envelope. Its figures go to `fuzz-figures.json` in the test's folder and the
test's output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fuzz.conftest import identity, known_objects

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("TASKPLANE_FUZZ_MAX_EXAMPLES", "25"))
HOOKS = "tests.fuzz.hooks"
ACCESS_LINE = re.compile(r'"[A-Z]+ \S* HTTP/1\.[01]" \d{3} ')


def served(stack) -> int:
    """Requests gunicorn has answered so far (lines of its access log)."""
    return len(ACCESS_LINE.findall(stack.log_path.read_text(errors="replace")))


def test_fuzzing_the_whole_api_finds_no_server_error_and_no_undocumented_answer(
        stack, tmp_path):
    known = known_objects(stack)
    report = tmp_path / "report.json"
    argv = [str(Path(sys.executable).parent / "schemathesis"), "run",
            f"{stack.url}/openapi.json", "--checks", "all",
            "--exclude-checks", "positive_data_acceptance,ensure_resource_availability,"
                                "use_after_free,object_level_authorization",
            # One worker thread: hypothesis parses lambdas with `ast`, which CPython 3.11
            # can get wrong when two threads do it at once ("recursion depth mismatch").
            "--max-examples", str(MAX_EXAMPLES), "--workers", "1", "--seed", "8",
            "--request-timeout", "30", "--phases", "examples,coverage,fuzzing",
            "--suppress-health-check", "all", "--report", "json",
            "--report-json-path", str(report), "--no-color"]
    for name, value in identity(stack).items():
        argv += ["-H", f"{name}: {value}"]
    served_before = served(stack)
    started = time.monotonic()
    # Run in the test's folder, where schemathesis keeps its cache; the hooks from here.
    run = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                         env=dict(os.environ, SCHEMATHESIS_HOOKS=HOOKS, PYTHONPATH=str(ROOT),
                                  TASKPLANE_FUZZ_IDS=json.dumps(known)))
    elapsed = time.monotonic() - started
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
    assert report.exists(), run.stdout[-5000:] + run.stderr[-5000:]
    result = json.loads(report.read_text())
    figures = {"operations": result["operations"]["tested"],
               "operations_in_document": result["operations"]["total"],
               "test_cases": result["test_cases"]["generated"],
               "requests": served(stack) - served_before,
               "failures": result["test_cases"]["with_failures"],
               "errors": result["test_cases"]["errored"], "seconds": round(elapsed),
               "max_examples": MAX_EXAMPLES}
    (tmp_path / "fuzz-figures.json").write_text(json.dumps(figures))
    print(f"\nfuzz gate: {json.dumps(figures)}")

    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]
    assert figures["failures"] == figures["errors"] == 0
    assert figures["operations"] == figures["operations_in_document"] > 30
