"""Alembic glue: upgrade a database and tell whether it is at the latest revision."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.db import system_session
from config.settings import ROOT


def alembic_config(url: str) -> Config:
    """An Alembic config for `url`, with the scripts in `migrations/`."""
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`."""
    command.upgrade(alembic_config(url), revision)


def pending(engine) -> tuple[str | None, str | None]:
    """(current, head) when the database is not at head, else (None, None)."""
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    with system_session(engine) as session:
        current = MigrationContext.configure(session.connection()).get_current_revision()
    return (None, None) if current == head else (current, head)
