"""The `taskplane` command: run the whole stack locally, migrate the database."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

import click
from taskplane_client import TERMINAL, ApiError, Client

from app.migrate import upgrade
from config.settings import ROOT, Settings


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


def _client(ctx) -> Client:
    return Client(**ctx.obj)


PREFER_WAIT = 60  # seconds the server may hold `submit --wait` before it answers 202


def _show(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _progress(job: dict) -> None:
    bar = "#" * int(job["progress"] * 30)
    step = job.get("current_step") or ""
    click.echo(f"\r{job['status']:<10} [{bar:<30}] {job['progress']:4.0%} {step[:40]:<40}",
               nl=False, err=True)


@main.command()
@click.argument("job_type")
@click.option("--payload", default="{}", show_default=True, help="Payload as JSON.")
@click.option("--project", required=True)
@click.option("--priority", type=click.IntRange(0, 9), default=5, show_default=True)
@click.option("--idempotency-key")
@click.option("--wait", is_flag=True, help="Wait until the job ends (the server answers when "
              "it ends within a minute, then progress is shown).")
@click.option("--follow", is_flag=True,
              help="Stream the job's log lines until it ends (resumed if the stream drops).")
@click.pass_context
def submit(ctx, job_type, payload, project, priority, idempotency_key, wait, follow) -> None:
    """Submit a job; with --wait or --follow, exit non-zero unless it completes."""
    client = _client(ctx)
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from exc
    job = _call(client.submit, job_type, body, project, priority, idempotency_key,
                wait=PREFER_WAIT if wait and not follow else None)
    click.echo(job["id"])
    if follow:
        _echo_lines(client.follow(job["id"]))
    if (wait or follow) and job["status"] not in TERMINAL:
        job = client.wait(job["id"], on_update=None if follow else _progress)
        click.echo("", err=True)
    if wait or follow:
        _show(job)
        sys.exit(0 if job["status"] == "completed" else 1)


def _call(method, *args, **kwargs):
    try:
        return method(*args, **kwargs)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc


def _each(listing):
    """Items of a listing or stream; an API error becomes a clear message, as in `_call`."""
    try:
        yield from listing
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc


def _echo_lines(follow) -> None:
    """Print each log line of a `Client.follow` as `<time> <message>`."""
    for entry in _each(follow):
        click.echo(f"{entry['at']} {entry['message']}")


@main.group()
def jobs() -> None:
    """List, show, cancel and retry jobs; read logs and results."""


@jobs.command("list")
@click.option("--status")
@click.option("--job-type")
@click.option("--project")
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_context
def jobs_list(ctx, status, job_type, project, limit) -> None:
    """The tenant's jobs, newest first."""
    listing = _each(_client(ctx).jobs(status=status, job_type=job_type, project=project))
    for _, job in zip(range(limit), listing, strict=False):
        click.echo(f"{job['id']}  {job['status']:<10} {job['job_type']:<12} "
                   f"{job['project']:<16} {job['created_at']}")


def _job_command(name: str, method: str, help_text: str) -> None:
    """`taskplane jobs NAME JOB_ID`: call `Client.<method>(job_id)` and print the answer."""

    @jobs.command(name, help=help_text)
    @click.argument("job_id")
    @click.pass_context
    def command(ctx, job_id) -> None:
        _show(_call(getattr(_client(ctx), method), job_id))


for _name, _method, _help in (("show", "job", "One job with its timeline."),
                              ("cancel", "cancel", "Cancel a queued or running job."),
                              ("retry", "retry", "Re-run a failed or cancelled job."),
                              ("result", "result", "The result of a completed job.")):
    _job_command(_name, _method, _help)


@jobs.command("logs")
@click.argument("job_id")
@click.option("--follow", is_flag=True,
              help="Stream until the job ends (resumed if the stream drops).")
@click.pass_context
def jobs_logs(ctx, job_id, follow) -> None:
    """A job's log lines."""
    client = _client(ctx)
    if follow:
        _echo_lines(client.follow(job_id))
        return
    click.echo(_call(client.logs, job_id), nl=False)


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
    key = _call(_client(ctx).create_api_key, name, roles, key_actor, expires_at)
    click.echo(key["key"])
    click.echo(f"id {key['id']}  actor {key['actor']}  roles {','.join(key['roles'])}  "
               f"expires {key['expires_at'] or 'never'} (the key is not shown again)", err=True)


@api_keys.command("list")
@click.option("--actor", help="Only this actor's keys.")
@click.option("--include-revoked", is_flag=True)
@click.pass_context
def api_keys_list(ctx, actor, include_revoked) -> None:
    """The tenant's keys: id, prefix, actor, roles, expiry."""
    listing = _client(ctx).api_keys(actor=actor, include_revoked=include_revoked or None)
    for key in _each(listing):
        revoked = f"  revoked {key['revoked_at']}" if key["revoked_at"] else ""
        click.echo(f"{key['id']}  {key['prefix']}…  {key['actor']:<16} "
                   f"{','.join(key['roles']):<20} {key['name']}{revoked}")


@api_keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def api_keys_revoke(ctx, key_id) -> None:
    """Revoke a key: its next request is refused."""
    _call(_client(ctx).revoke_api_key, key_id)
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
    listing = _client(ctx).audit(actor=actor, action=action, outcome=outcome, since=since,
                                 until=until, page_size=min(limit, 500))
    for _, record in zip(range(limit), _each(listing), strict=False):
        click.echo(f"{record['at']}  {record['outcome']:<7} {record['status']} "
                   f"{record['action']:<20} {record['target'] or '-'}  "
                   f"{record['actor'] or '-'}  {record['reason']}")


@main.group()
def artifacts() -> None:
    """Push, pull, list and show artifacts."""


@artifacts.command("push")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", help="Artifact name [default: the file's name].")
@click.option("--type", "type_", default="file", show_default=True)
@click.option("--project")
@click.option("--metadata", default="{}", show_default=True, help="Metadata as JSON.")
@click.option("--content-type", default="application/octet-stream", show_default=True)
@click.pass_context
def artifacts_push(ctx, path, name, type_, project, metadata, content_type) -> None:
    """Upload a file as a new artifact (streamed); prints the artifact."""
    try:
        meta = json.loads(metadata)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--metadata") from exc
    client = _client(ctx)
    _show(_call(lambda: client.push(path, name=name, type=type_, project=project,
                                    metadata=meta, content_type=content_type)))


@artifacts.command("pull")
@click.argument("artifact_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write [default: the artifact's name, in this folder].")
@click.option("--version", type=click.IntRange(min=1), help="An older version.")
@click.pass_context
def artifacts_pull(ctx, artifact_id, output, version) -> None:
    """Download an artifact's bytes to a file."""
    client = _client(ctx)
    if output is None:  # only the last part of the name, never a path it spells
        output = Path(_call(client.artifact, artifact_id)["name"].replace("\\", "/")).name
        if output in ("", ".", ".."):
            output = artifact_id
    written = _call(client.pull, artifact_id, output, version)
    click.echo(f"{output}: {written} bytes")


@artifacts.command("list")
@click.option("--type", "type_")
@click.option("--name")
@click.option("--project")
@click.option("--job-id")
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_context
def artifacts_list(ctx, type_, name, project, job_id, limit) -> None:
    """The tenant's artifacts, newest first."""
    listing = _client(ctx).artifacts(type=type_, name=name, project=project, job_id=job_id)
    for _, artifact in zip(range(limit), listing, strict=False):
        click.echo(f"{artifact['id']}  v{artifact['version']:<3} {artifact['type']:<10} "
                   f"{artifact['size'] or 0:>12,}  {artifact['name']}")


@artifacts.command("show")
@click.argument("artifact_id")
@click.pass_context
def artifacts_show(ctx, artifact_id) -> None:
    """One artifact with its current manifest."""
    _show(_call(_client(ctx).artifact, artifact_id))


@artifacts.command("url")
@click.argument("artifact_id")
@click.option("--expires-in", type=click.IntRange(min=1), default=3600, show_default=True,
              help="Seconds the link stays valid.")
@click.pass_context
def artifacts_url(ctx, artifact_id, expires_in) -> None:
    """A signed download link anyone can use until it expires."""
    _show(_call(_client(ctx).download_url, artifact_id, expires_in))


@main.command("job-types")
@click.pass_context
def job_types(ctx) -> None:
    """The job types this deployment runs."""
    for job_type in _call(_client(ctx).job_types):
        click.echo(f"{job_type['name']:<16} {job_type['kind']:<8} {job_type['description']}")


@main.group(invoke_without_command=True)
@click.pass_context
def quotas(ctx) -> None:
    """The tenant's quotas: limits, usage and percent per job type (`set` to change one)."""
    if ctx.invoked_subcommand is not None:
        return
    listing = _call(_client(ctx).quotas)
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
    _show(_call(_client(ctx).set_quota, tenant, job_type, **limits))


@main.command()
def migrate() -> None:
    """Migrate the database at TASKPLANE_DATABASE_URL to the latest schema."""
    settings = Settings.from_env()
    upgrade(settings.database_url)
    click.echo(f"database at {settings.database_url} is up to date")


def _answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379),
                                      timeout=1):
            return True
    except OSError:
        return False


def _redis_command(url: str, var_dir: Path) -> str:
    """The command line of a local redis-server for `url`, data under var/redis with AOF on."""
    if shutil.which("redis-server") is None:
        raise click.ClickException("redis-server not found: apt-get install redis-server")
    data = var_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    parsed = urlparse(url)
    return (f"redis-server --bind {parsed.hostname or '127.0.0.1'} --port {parsed.port or 6379}"
            f" --dir {data} --appendonly yes --save ''")


@main.command()
@click.option("--procfile", default=str(ROOT / "Procfile"), show_default=True,
              help="Processes to run.")
def dev(procfile: str) -> None:
    """Run web, worker, beat and Flower (and redis-server if none answers); Ctrl-C stops all."""
    from honcho.environ import parse_procfile
    from honcho.manager import Manager

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


if __name__ == "__main__":
    main()
