"""`JobCancelled` cannot be swallowed by a handler's `except Exception`."""

from __future__ import annotations

import pytest

from tasks.errors import JobCancelled


def careless_handler(check_cancelled) -> str:
    """A handler that catches everything it thinks is an error, as handlers do."""
    try:
        check_cancelled()
    except Exception:  # noqa: BLE001 - the point of the test
        return "finished anyway"
    return "finished"


def test_job_cancelled_passes_through_except_exception():
    def cancelled():
        raise JobCancelled("job-1")

    with pytest.raises(JobCancelled):
        careless_handler(cancelled)
