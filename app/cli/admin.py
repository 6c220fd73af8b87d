"""The `taskplane` command's tenant administration: API keys, the audit log, quotas."""

from __future__ import annotations

import click

from app.cli.base import api_client, call, each, main, show


@main.group("api-keys")
def api_keys() -> None:
    """Create, list and revoke API keys of your tenant (admin)."""


@api_keys.command("create")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--roles", "key_roles", required=True, help="Comma separated roles of the key.")
@click.option("--actor", "key_actor", help="Who the key acts as (default: you).")
@click.option("--expires-at", help="ISO 8601 time with a timezone after which it is refused.")
@click.pass_context
def api_keys_create(ctx, name, key_roles, key_actor, expires_at) -> None:
    """Create a key and print it: it is shown this once."""
    roles = [r.strip() for r in key_roles.split(",") if r.strip()]
    key = call(api_client(ctx).create_api_key, name, roles, key_actor, expires_at)
    click.echo(key["key"])
    click.echo(f"id {key['id']}  actor {key['actor']}  roles {','.join(key['roles'])}  "
               f"expires {key['expires_at'] or 'never'} (the key is not shown again)", err=True)


@api_keys.command("list")
@click.option("--actor", help="Only this actor's keys.")
@click.option("--include-revoked", is_flag=True)
@click.pass_context
def api_keys_list(ctx, actor, include_revoked) -> None:
    """The tenant's keys: id, prefix, actor, roles, expiry."""
    listing = api_client(ctx).api_keys(actor=actor, include_revoked=include_revoked or None)
    for key in each(listing):
        revoked = f"  revoked {key['revoked_at']}" if key["revoked_at"] else ""
        click.echo(f"{key['id']}  {key['prefix']}…  {key['actor']:<16} "
                   f"{','.join(key['roles']):<20} {key['name']}{revoked}")


@api_keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def api_keys_revoke(ctx, key_id) -> None:
    """Revoke a key: its next request is refused."""
    call(api_client(ctx).revoke_api_key, key_id)
    click.echo(f"revoked {key_id}")


@main.command("audit")
@click.option("--actor")
@click.option("--action", help="e.g. jobs.submit, jobs.cancel")
@click.option("--outcome", type=click.Choice(["allowed", "denied", "failed"]))
@click.option("--since", help="ISO time with a timezone, inclusive.")
@click.option("--until", help="ISO time with a timezone, exclusive.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_context
def audit_log(ctx, actor, action, outcome, since, until, limit) -> None:
    """The tenant's audit log, newest first (operator, admin)."""
    listing = api_client(ctx).audit(actor=actor, action=action, outcome=outcome,
                                    since=since, until=until, page_size=min(limit, 500))
    for _, record in zip(range(limit), each(listing), strict=False):
        click.echo(f"{record['at']}  {record['outcome']:<7} {record['status']} "
                   f"{record['action']:<20} {record['target'] or '-'}  "
                   f"{record['actor'] or '-'}  {record['reason']}")


@main.group(invoke_without_command=True)
@click.pass_context
def quotas(ctx) -> None:
    """The tenant's quotas: limits, usage and percent per job type (`set` to change one)."""
    if ctx.invoked_subcommand is not None:
        return
    listing = call(api_client(ctx).quotas)
    click.echo(f"{'job type':<16} {'active':>13} {'last hour':>15} {'percent':>8}")
    for row in listing["items"]:
        click.echo(f"{row['job_type']:<16} {row['active']:>6}/{row['max_active']:<6} "
                   f"{row['submitted_last_hour']:>7}/{row['max_per_hour']:<7} "
                   f"{row['percent']:>7.1f}%")
    limit = listing["storage"]["max_artifact_bytes"]
    click.echo(f"artifact storage limit: {'unlimited' if limit is None else f'{limit} bytes'}")


def _limit(_ctx, _param, value):
    """A limit option: a number, or `default` for the catalog's default."""
    if value is None or value == "default":
        return value
    try:
        return int(value)
    except ValueError as exc:
        raise click.BadParameter("a whole number or 'default'") from exc


@quotas.command("set")
@click.argument("tenant")
@click.argument("job_type")
@click.option("--max-active", callback=_limit, help="Queued + running jobs, or 'default'.")
@click.option("--max-per-hour", callback=_limit, help="Submissions per hour, or 'default'.")
@click.pass_context
def quotas_set(ctx, tenant, job_type, max_active, max_per_hour) -> None:
    """Set a job type's limits for TENANT (admin of that tenant)."""
    limits = {name: None if value == "default" else value
              for name, value in (("max_active", max_active), ("max_per_hour", max_per_hour))
              if value is not None}
    if not limits:
        raise click.UsageError("give --max-active, --max-per-hour or both")
    show(call(api_client(ctx).set_quota, tenant, job_type, **limits))
