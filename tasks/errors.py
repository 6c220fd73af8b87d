"""Errors a job handler raises to say how its attempt ended."""

from __future__ import annotations


class JobError(Exception):
    """The job failed for a reason worth showing to its submitter; not retried."""


class RetryableJobError(JobError):
    """A transient failure: the attempt is retried per the job type's retry policy."""


class JobCancelled(BaseException):
    """Raised inside a handler once its job was asked to stop.

    A BaseException, like `KeyboardInterrupt`: a handler's `except Exception` cannot
    swallow it and finish a cancelled attempt as completed. The runner catches it.
    """


class AttemptLost(JobCancelled):
    """Raised inside a handler whose attempt lost its lease to a database outage.

    The attempt can no longer prove it is the one running, so it stops as a lost
    worker's would: nothing more is recorded for it, and its message comes back once
    the lease has lapsed, when the next claim starts a new attempt within the budget.
    """
