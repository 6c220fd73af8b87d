"""Process-wide handles, created unbound here and bound once by `configure()`.

The Flask factory binds them for the web process; the worker entry point calls the
same factory, so both doors share one database handle, one Celery app and one catalog.
"""

from __future__ import annotations

from celery import Celery

from app.db import Database
from config.catalog import JobType, build_catalog
from config.settings import Settings

db = Database()
celery_app = Celery("taskplane")


class Runtime:
    """The settings and job-type catalog this process was configured with."""

    settings: Settings = Settings.from_env()
    catalog: dict[str, JobType] = {}


runtime = Runtime()


def configure(settings: Settings) -> None:
    """Bind the database, the Celery app and the catalog to `settings`."""
    import celeryconfig  # top-level module; read only once settings are known

    new_broker = settings.broker_url != runtime.settings.broker_url
    runtime.settings = settings
    runtime.catalog = build_catalog(settings.command_types_file)
    db.configure(settings.database_url)
    celery_app.config_from_object(celeryconfig.build(settings, runtime.catalog))
    if new_broker:
        _forget_broker_connections()


def _forget_broker_connections() -> None:
    """Let the next publish use the configured broker URL, not the one Celery first used.

    Celery picks its connection and producer pools on first use and never reads
    `broker_url` again; forgetting them, as Celery's own after-fork reset does, makes it
    pick again (kombu keeps one pool per URL, so returning to a URL reuses its pool).
    """
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")  # a cached property: only if already built
    if amqp is not None:
        amqp._producer_pool = None
