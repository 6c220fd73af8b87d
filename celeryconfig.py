"""Celery configuration, derived from Taskplane settings and the job-type catalog.

JSON only, acks late, reject on worker lost, prefetch 1, worker task events on for
Flower; the client's task-sent event only with `TASKPLANE_TASK_SENT_EVENT` (it is a
second broker publish on every submit).
On Redis the visibility timeout (the redelivery window) is set once here, for the broker
and any Redis result backend alike: `TASKPLANE_BROKER_REDELIVERY_SECONDS`, else longer
than the longest hard time limit and retry backoff, so a running or delayed job is
rarely handed to a second worker while the first still has it (when it is, the claim
turns the copy away); priorities are Redis's emulation (one list per step). On any other
broker (RabbitMQ) those options mean nothing and are left out: queues are declared with
`x-max-priority`, a publish returns once the broker confirmed it, and a message goes back
to its queue as soon as the connection of the worker holding it closes, or when the
server's `consumer_timeout` closes its channel.
"""

from __future__ import annotations

from kombu import Queue

VISIBILITY_MARGIN_SECONDS = 300
MAX_PRIORITY = 9  # the API's priorities are 0-9
PRIORITY_STEPS = list(range(MAX_PRIORITY + 1))
CONTROL_QUEUE = "control"


def visibility_timeout(settings, catalog) -> int:
    """Seconds a reserved message stays invisible: `TASKPLANE_BROKER_REDELIVERY_SECONDS`,
    else the longest time limit or backoff + margin."""
    if settings.broker_redelivery_seconds > 0:
        return settings.broker_redelivery_seconds
    longest = max(
        (max(spec.time_limit, spec.retry_backoff_max) for spec in catalog.values()), default=3600
    )
    return longest + VISIBILITY_MARGIN_SECONDS


def queues(catalog) -> list[str]:
    """The queue names of the catalog, in a stable order."""
    return sorted({spec.queue for spec in catalog.values()} | {CONTROL_QUEUE})


def _restore_checks(window: int) -> dict:
    """How often kombu looks for overdue messages: about a quarter of the window, at most
    every 100 s (its default), so a short window is honoured within a second or two."""
    interval = max(1, min(10, window // 4))
    return {"unacked_restore_interval": interval,
            "unacked_restore_throttle": max(1, min(10, window // (4 * interval)))}


def _redis_transport(settings, catalog) -> dict:
    window = visibility_timeout(settings, catalog)
    transport = {
        "visibility_timeout": window,
        **_restore_checks(window),
        "priority_steps": PRIORITY_STEPS,
        "sep": ":",
        "queue_order_strategy": "priority",
    }
    return {"broker_transport_options": transport,
            "result_backend_transport_options": {
                "visibility_timeout": transport["visibility_timeout"]}}


def task_queues(settings, catalog) -> list[Queue]:
    """The catalog's queues; on a broker with native priorities, declared with a maximum."""
    priority = {} if settings.broker_is_redis else {"max_priority": MAX_PRIORITY}
    # Each queue bound by its own name: with one shared routing key, a direct exchange
    # would copy every message into every queue.
    return [Queue(name, routing_key=name, **priority) for name in queues(catalog)]


def build(settings, catalog) -> dict:
    """The Celery settings mapping for `settings` and `catalog`."""
    return {
        "broker_url": settings.broker_url,
        **(_redis_transport(settings, catalog) if settings.broker_is_redis else
           {"broker_transport_options": {"confirm_publish": True}}),
        "broker_connection_retry_on_startup": True,
        # A channel the broker closes (RabbitMQ's `consumer_timeout` past a long job) is
        # reopened like a lost connection; without this the worker stops consuming for good.
        "broker_channel_error_retry": True,
        # A job still running when its connection is lost goes on (its redelivered copy is
        # turned away by the claim while its lease lives), as Celery 5 does by default.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_send_sent_event": settings.task_sent_event,
        "worker_send_task_events": True,
        "task_queues": task_queues(settings, catalog),
        "task_default_queue": "default",
        "beat_schedule": {
            "sweep-jobs": {
                "task": "taskplane.sweep",
                "schedule": settings.sweep_interval_seconds,
                "options": {"queue": CONTROL_QUEUE, "expires": settings.sweep_interval_seconds},
            },
            "quota-reconcile": {
                "task": "taskplane.quotas.reconcile",
                "schedule": settings.quota_reconcile_seconds,
                "options": {"queue": CONTROL_QUEUE, "expires": settings.quota_reconcile_seconds},
            },
            "artifact-retention": {
                "task": "taskplane.artifacts.retention",
                "schedule": settings.artifact_sweep_interval_seconds,
                "options": {"queue": CONTROL_QUEUE,
                            "expires": settings.artifact_sweep_interval_seconds},
            },
            "artifact-scrub": {
                "task": "taskplane.artifacts.scrub",
                "schedule": settings.artifact_scrub_interval_seconds,
                "options": {"queue": CONTROL_QUEUE,
                            "expires": settings.artifact_scrub_interval_seconds},
            },
        },
        "timezone": "UTC",
        "enable_utc": True,
    }
