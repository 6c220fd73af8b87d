"""The `taskplane` command's server side: `migrate` and `dev`.

The server's modules (settings, Alembic, honcho), and the standard modules only `dev`
uses, are imported inside the commands, so that the client commands and `--help` start
without them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import click

from app.cli.base import main


@main.command()
def migrate() -> None:
    """Migrate the database at TASKPLANE_DATABASE_URL to the latest schema."""
    from app.migrate import upgrade
    from config.settings import Settings

    settings = Settings.from_env()
    upgrade(settings.database_url)
    click.echo(f"database at {settings.database_url} is up to date")


def _answers(url: str) -> bool:
    """True when something accepts a connection at the address of `url`."""
    import socket

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379),
                                      timeout=1):
            return True
    except OSError:
        return False


def _redis_command(url: str, var_dir: Path) -> str:
    """The command line of a local redis-server for `url`, data under var/redis with AOF on."""
    import shutil

    if shutil.which("redis-server") is None:
        raise click.ClickException("redis-server not found: apt-get install redis-server")
    data = var_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    parsed = urlparse(url)
    return (f"redis-server --bind {parsed.hostname or '127.0.0.1'} --port {parsed.port or 6379}"
            f" --dir {data} --appendonly yes --save ''")


def _procfile() -> str:
    """The Procfile of this checkout: `dev --procfile`'s default, resolved when it runs."""
    from config.settings import ROOT

    return str(ROOT / "Procfile")


@main.command()
@click.option("--procfile", default=_procfile, show_default="the Procfile of this checkout",
              help="Processes to run.")
def dev(procfile: str) -> None:
    """Run web, worker, beat and Flower (and redis-server if none answers); Ctrl-C stops all."""
    import secrets

    from honcho.environ import parse_procfile
    from honcho.manager import Manager

    from app.migrate import upgrade
    from config.settings import ROOT, Settings

    settings = Settings.from_env()
    try:
        settings.check()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    var_dir = Path(os.environ.get("TASKPLANE_VAR_DIR", ROOT / "var"))
    var_dir.mkdir(parents=True, exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)  # gunicorn and celery beside this Python
    env = dict(os.environ, TASKPLANE_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1",
               PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))
    env.setdefault("PORT", "8000")
    env.setdefault("FLOWER_PORT", "5555")
    env.setdefault("TASKPLANE_LOG_FORMAT", "text")  # a terminal: lines for people
    if not env.get("FLOWER_BASIC_AUTH"):
        env["FLOWER_BASIC_AUTH"] = f"admin:{secrets.token_urlsafe(12)}"
        click.echo(f"Flower login (set FLOWER_BASIC_AUTH to choose): {env['FLOWER_BASIC_AUTH']}")
    upgrade(settings.database_url)
    manager = Manager()
    if not _answers(settings.redis_url):  # the broker, or the Redis beside another broker
        click.echo(f"nothing answers at {settings.redis_url}: starting redis-server")
        manager.add_process("redis", _redis_command(settings.redis_url, var_dir), env=env)
    for name, command in parse_procfile(Path(procfile).read_text()).processes.items():
        manager.add_process(name, command, env=env, cwd=str(ROOT))
    click.echo(f"API on http://127.0.0.1:{env['PORT']}  (docs: /docs)   "
               f"Flower on http://127.0.0.1:{env['FLOWER_PORT']}")
    manager.loop()
    sys.exit(manager.returncode)
