"""The one place that speaks to the broker: publish job messages, probe the broker and workers."""

from __future__ import annotations

import logging

from app.extensions import celery_app, runtime
from celeryconfig import MAX_PRIORITY

logger = logging.getLogger("taskplane.dispatch")


def broker_priority(priority: int) -> int:
    """Map the API's priority (0-9, 9 most urgent) onto the broker's scale."""
    if runtime.settings.broker_is_redis:
        return MAX_PRIORITY - priority  # Redis transport: 0 is served first
    return priority  # AMQP `x-max-priority` queues: the highest is served first


def send_job(job_id: str, job_type: str, priority: int, countdown: float | None = None) -> None:
    """Publish the message for one job: only its id travels, and task id = job id."""
    spec = runtime.catalog[job_type]
    celery_app.send_task(
        spec.task_name,
        args=[job_id],
        task_id=job_id,
        queue=spec.queue,
        priority=broker_priority(priority),
        countdown=countdown,
    )


def broker_reachable() -> tuple[bool, str]:
    """Whether the broker answers, with the error when it does not."""
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return False, f"{type(exc).__name__}: {exc}"


def workers_online(timeout: float, every: bool = False) -> list[str]:
    """Names of the workers that answer a ping: the first, or `every` one within `timeout`."""
    replies = celery_app.control.ping(timeout=timeout, limit=None if every else 1) or []
    return sorted(name for reply in replies for name in reply)


def queue_depths() -> dict[str, int]:
    """Messages waiting per queue, every priority included.

    On Redis, kombu keeps priority p > 0 of queue q in its own list `q:p`
    (`sep=":"`, `priority_steps` 0-9); a passive declare sums the lengths of all of them.
    """
    if not runtime.settings.broker_is_redis:
        return _amqp_queue_depths()
    depths = {}
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)  # a broker down answers at once
        channel = conn.default_channel
        for queue in celery_app.conf.task_queues:
            try:
                depths[queue.name] = channel.queue_declare(queue.name, passive=True).message_count
            except Exception:  # noqa: BLE001 - a queue never declared is empty
                depths[queue.name] = 0
    return depths


def _amqp_queue_depths() -> dict[str, int]:
    """Ready messages per AMQP queue, from a passive declare (reserved ones are not counted).

    A passive declare of a queue that does not exist closes its channel (404), so each
    queue gets a channel of its own.
    """
    depths = {}
    with celery_app.connection_for_write() as conn:
        for queue in celery_app.conf.task_queues:
            channel = conn.channel()
            try:
                depths[queue.name] = channel.queue_declare(queue.name, passive=True).message_count
            except conn.channel_errors:  # never declared: nothing waits in it
                depths[queue.name] = 0
            finally:
                try:
                    channel.close()
                except conn.connection_errors + conn.channel_errors:
                    pass  # already closed by the broker after a 404
    return depths
