"""The `taskplane` command's artifacts: push, pull, list, show and signed links."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from app.cli.base import api_client, call, main, show


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
    client = api_client(ctx)
    show(call(lambda: client.push(path, name=name, type=type_, project=project,
                                   metadata=meta, content_type=content_type)))


@artifacts.command("pull")
@click.argument("artifact_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write [default: the artifact's name, in this folder].")
@click.option("--version", type=click.IntRange(min=1), help="An older version.")
@click.pass_context
def artifacts_pull(ctx, artifact_id, output, version) -> None:
    """Download an artifact's bytes to a file."""
    client = api_client(ctx)
    if output is None:  # only the last part of the name, never a path it spells
        output = Path(call(client.artifact, artifact_id)["name"].replace("\\", "/")).name
        if output in ("", ".", ".."):
            output = artifact_id
    written = call(client.pull, artifact_id, output, version)
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
    listing = api_client(ctx).artifacts(type=type_, name=name, project=project, job_id=job_id)
    for _, artifact in zip(range(limit), listing, strict=False):
        click.echo(f"{artifact['id']}  v{artifact['version']:<3} {artifact['type']:<10} "
                   f"{artifact['size'] or 0:>12,}  {artifact['name']}")


@artifacts.command("show")
@click.argument("artifact_id")
@click.pass_context
def artifacts_show(ctx, artifact_id) -> None:
    """One artifact with its current manifest."""
    show(call(api_client(ctx).artifact, artifact_id))


@artifacts.command("url")
@click.argument("artifact_id")
@click.option("--expires-in", type=click.IntRange(min=1), default=3600, show_default=True,
              help="Seconds the link stays valid.")
@click.pass_context
def artifacts_url(ctx, artifact_id, expires_in) -> None:
    """A signed download link anyone can use until it expires."""
    show(call(api_client(ctx).download_url, artifact_id, expires_in))


@artifacts.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def artifacts_verify(as_json) -> None:
    """Check every stored object against its digest (server side: TASKPLANE_* settings).

    Reads the database and object store the server is configured with, not the API. Each
    missing or corrupt object is reported (event and metric, as a download would) and
    listed; the exit status is 1 when there is any.
    """
    from app import create_app
    from app.services import artifact_integrity

    with create_app().app_context():
        found = artifact_integrity.verify(artifact_integrity.stored_keys(), "verify")
    if as_json:
        show(found)
    else:
        for kind in ("missing", "corrupt"):
            for bad in found[kind]:
                click.echo(f"{kind:<8} {bad['key']}  {bad['size']:>12,}  "
                           f"artifacts {', '.join(bad['artifacts']) or '-'}")
        click.echo(f"{found['checked']} objects checked ({found['bytes']:,} bytes): "
                   f"{len(found['missing'])} missing, {len(found['corrupt'])} corrupt")
    if found["missing"] or found["corrupt"]:
        sys.exit(1)
