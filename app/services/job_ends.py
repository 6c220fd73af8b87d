"""Job-end notifications over Redis pub/sub: whoever ends a job announces it after the
commit; a request that waits for a job (`Prefer: wait`) listens instead of polling.

A notification only wakes the listener, which then reads the job from the database:
one that is lost (Redis down for a moment) costs the waiter its wait, never a wrong answer.
"""

from __future__ import annotations

import functools
import logging
import time

import redis

from app.extensions import runtime

logger = logging.getLogger("taskplane.job_ends")


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    """The process's client of the Redis Taskplane keeps its own state in."""
    return _client(runtime.settings.redis_url)


def _channel(job_id: str) -> str:
    return f"taskplane:job-ended:{job_id}"


def announce(job_id: str, status: str) -> None:
    """Tell listeners that `job_id` ended (call after the commit that ended it)."""
    try:
        redis_client().publish(_channel(job_id), status)
    except redis.RedisError:
        logger.warning("job-end notification of %s not sent", job_id, exc_info=True)


class EndWatch:
    """A subscription to one job's end; open it before reading the job, then `wait`."""

    def __init__(self, job_id: str):
        self.pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(_channel(job_id))

    def wait(self, seconds: float) -> bool:
        """Block until the job's end is announced (True) or `seconds` pass (False)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.pubsub.get_message(timeout=left) is not None:
                return True
        return False

    def close(self) -> None:
        """Unsubscribe and give the connection back."""
        self.pubsub.close()

    def __enter__(self) -> EndWatch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
