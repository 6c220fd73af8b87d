"""Helpers for job lifecycle tests that run on the session's real worker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.api.conftest import expect_error  # noqa: F401 - the shared envelope check


@pytest.fixture
def alice(caller):
    """The submitter of this test's jobs (a viewer)."""
    return caller("viewer", actor="alice")


@pytest.fixture
def operator(caller):
    """An operator of the same tenant: may read governance events."""
    return caller("operator", actor="olga")


@pytest.fixture
def job_events(operator):
    """`job_events(job_id, type=None)`: the job's governance events, oldest first (GET /events)."""

    def fetch(job_id: str, type: str | None = None) -> list[dict]:
        query = f"/events?job_id={job_id}&limit=500" + (f"&type={type}" if type else "")
        response = operator.get(query)
        assert response.status_code == 200, response.get_json()
        return list(reversed(response.get_json()["items"]))

    return fetch


@pytest.fixture
def job_logs(alice):
    """`job_logs(job_id)`: the job's log entries as NDJSON objects, oldest first."""

    def fetch(job_id: str) -> list[dict]:
        response = alice.get(f"/jobs/{job_id}/logs", headers={"Accept": "application/x-ndjson"})
        assert response.status_code == 200
        return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]

    return fetch


@pytest.fixture
def printed_pids(job_logs):
    """`printed_pids(job_id)`: the (command, grandchild) pids `py-hang` logged, or None yet."""

    def pids(job_id: str) -> tuple[int, int] | None:
        for entry in job_logs(job_id):
            if match := re.fullmatch(r"pids (\d+) (\d+)", entry["message"]):
                return int(match[1]), int(match[2])
        return None

    return pids


@pytest.fixture
def delivery_outcomes(worker):
    """`delivery_outcomes(job_id)`: outcome of each finished delivery of the job's message.

    Read from the worker's log (`Task ...[<job id>] succeeded in ...: {... 'outcome': ...}`),
    so a test can wait until a duplicate or deferred delivery has really been handled.
    """

    def outcomes(job_id: str) -> list[str]:
        pattern = re.compile(rf"\[{re.escape(job_id)}\] succeeded in \S+: .*'outcome': '(\w+)'")
        return pattern.findall(worker.log())

    return outcomes


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie is dead


@pytest.fixture
def pid_alive():
    """`pid_alive(pid)`: whether the process exists and is not a zombie awaiting its reaper."""
    return _pid_alive
