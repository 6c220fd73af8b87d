"""Celery side of Taskplane: the job runner, signal handlers and built-in job types.

`celery -A tasks worker|beat|flower` finds the configured Celery app in `tasks.celery`
(Celery looks there when the package itself has no `app`); importing this package,
or any handler module in it, configures nothing.
"""
