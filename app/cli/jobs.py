"""The `taskplane` command's jobs: submit, list, show, cancel, retry, logs, results, job types."""

from __future__ import annotations

import json
import sys

import click

from app.cli.base import api_client, call, each, main, show

PREFER_WAIT = 60  # seconds the server may hold `submit --wait` before it answers 202


def _progress(job: dict) -> None:
    bar = "#" * int(job["progress"] * 30)
    step = job.get("current_step") or ""
    click.echo(f"\r{job['status']:<10} [{bar:<30}] {job['progress']:4.0%} {step[:40]:<40}",
               nl=False, err=True)


def _echo_lines(follow) -> None:
    """Print each log line of a `Client.follow` as `<time> <message>`."""
    for entry in each(follow):
        click.echo(f"{entry['at']} {entry['message']}")


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
    from taskplane_client import TERMINAL

    client = api_client(ctx)
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from exc
    job = call(client.submit, job_type, body, project, priority, idempotency_key,
               wait=PREFER_WAIT if wait and not follow else None)
    click.echo(job["id"])
    if follow:
        _echo_lines(client.follow(job["id"]))
    if (wait or follow) and job["status"] not in TERMINAL:
        job = client.wait(job["id"], on_update=None if follow else _progress)
        click.echo("", err=True)
    if wait or follow:
        show(job)
        sys.exit(0 if job["status"] == "completed" else 1)


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
    listing = each(api_client(ctx).jobs(status=status, job_type=job_type, project=project))
    for _, job in zip(range(limit), listing, strict=False):
        click.echo(f"{job['id']}  {job['status']:<10} {job['job_type']:<12} "
                   f"{job['project']:<16} {job['created_at']}")


def _job_command(name: str, method: str, help_text: str) -> None:
    """`taskplane jobs NAME JOB_ID`: call `Client.<method>(job_id)` and print the answer."""

    @jobs.command(name, help=help_text)
    @click.argument("job_id")
    @click.pass_context
    def command(ctx, job_id) -> None:
        show(call(getattr(api_client(ctx), method), job_id))


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
    client = api_client(ctx)
    if follow:
        _echo_lines(client.follow(job_id))
        return
    click.echo(call(client.logs, job_id), nl=False)


@main.command("job-types")
@click.pass_context
def job_types(ctx) -> None:
    """The job types this deployment runs."""
    for job_type in call(api_client(ctx).job_types):
        click.echo(f"{job_type['name']:<16} {job_type['kind']:<8} {job_type['description']}")
