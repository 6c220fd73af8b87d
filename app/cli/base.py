"""The `taskplane` group, its connection options and what every client command shares.

`taskplane_client` (and with it `requests`) is imported when a command talks to the API,
not before: `taskplane --help` needs neither.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from taskplane_client import Client


@click.group()
@click.option("--url", envvar="TASKPLANE_URL", default="http://127.0.0.1:8000", show_default=True,
              help="API address (TASKPLANE_URL).")
@click.option("--actor", envvar="TASKPLANE_ACTOR", help="X-Actor in header mode (TASKPLANE_ACTOR).")
@click.option("--roles", envvar="TASKPLANE_ROLES", help="X-Roles in header mode (TASKPLANE_ROLES).")
@click.option("--tenant", envvar="TASKPLANE_TENANT",
              help="X-Tenant in header mode (TASKPLANE_TENANT).")
@click.option("--reason", envvar="TASKPLANE_REASON", help="X-Reason for the audit trail.")
@click.option("--token", envvar="TASKPLANE_TOKEN",
              help="Bearer credentials: an API key (tp_...) or a JWT (TASKPLANE_TOKEN).")
@click.pass_context
def main(ctx, url, actor, roles, tenant, reason, token) -> None:
    """Taskplane: one HTTP front door for long-running jobs on Celery and their artifacts."""
    ctx.obj = {"url": url, "actor": actor, "roles": roles, "tenant": tenant, "reason": reason,
               "token": token}


def api_client(ctx) -> Client:
    """The API client for the group's connection options."""
    from taskplane_client import Client

    return Client(**ctx.obj)


def show(data) -> None:
    """Print an answer as indented JSON."""
    click.echo(json.dumps(data, indent=2, default=str))


def call(method, *args, **kwargs):
    """`method(...)`; an API error becomes a clear message and exit status 1."""
    from taskplane_client import ApiError

    try:
        return method(*args, **kwargs)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc


def each(listing):
    """Items of a listing or stream; an API error becomes a clear message, as in `call`."""
    from taskplane_client import ApiError

    try:
        yield from listing
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc
