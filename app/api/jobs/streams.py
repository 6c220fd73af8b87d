"""Log and event streams of one job, rendered as plain text, NDJSON and Server-Sent Events.

A page of lines comes from `app.services.job_streams.log_page`, and what happens to a
running job from `app.services.job_streams.follow`; this module only writes them out.
Keep-alives: SSE sends a `: keep-alive` comment, NDJSON an empty line (NDJSON readers
skip empty lines), plain text nothing (any byte would become part of the log). At every
keep-alive the client's socket is also checked, so a client that closed its connection
frees its thread within one keep-alive interval, whatever the format.
"""

from __future__ import annotations

import json
import select
import socket
from typing import TYPE_CHECKING

from flask import Response, request, stream_with_context

from app.api.schemas import INT32
from app.errors import ValidationFailed
from app.logs import json_object
from app.services import job_streams

if TYPE_CHECKING:
    from app.models import Job, JobLog

NDJSON = "application/x-ndjson"
SSE_RETRY_MS = 2000  # how long an EventSource waits before it reconnects (with Last-Event-ID)
MAX_CURSOR_DIGITS = 10  # and at most INT32.max: the log id column is 32-bit on PostgreSQL
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def log_entry(entry: JobLog) -> dict:
    """One log line as NDJSON / SSE data; a structured line's fields stay a JSON object."""
    line = {"id": entry.id, "at": entry.at.isoformat(), "attempt": entry.attempt,
            "stream": entry.stream, "level": entry.level, "message": entry.message}
    fields = json_object(entry.message)
    if fields is not None:
        line.update(message=str(fields.pop("msg", "")), fields=fields)
    return line


def render_text(entry: JobLog) -> str:
    """One log line as plain text."""
    return f"{entry.at.isoformat()} {entry.message}\n"


def render_ndjson(entry: JobLog) -> str:
    """One log line as a JSON line."""
    return json.dumps(log_entry(entry)) + "\n"


def client_gone(environ) -> bool:
    """True when the client has closed its connection (its socket reads end-of-file)."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return False  # not under gunicorn: the next write will tell
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _stream(generate) -> Response:
    """A streamed answer that holds one of this process's stream slots until it closes."""
    release = job_streams.slots().acquire()
    response = Response(stream_with_context(generate()), headers=STREAM_HEADERS)
    response.call_on_close(release)  # gunicorn closes every answer, also a broken one
    return response


def log_response(job: Job, since: int, limit: int, follow: bool, accept: str) -> Response:
    """`GET /jobs/{id}/logs`: a page of lines, or a live stream with `follow`."""
    ndjson = NDJSON in accept
    render = render_ndjson if ndjson else render_text
    mimetype = NDJSON if ndjson else "text/plain"
    if not follow:
        entries, next_cursor = job_streams.log_page(job, since, limit)
        response = Response("".join(render(e) for e in entries), mimetype=mimetype)
        response.headers["X-Next-Cursor"] = str(next_cursor)
        return response
    keepalive = "\n" if ndjson else ""
    environ = request.environ

    def generate():
        yield ""  # sends the headers now, before the first line
        for kind, item in job_streams.follow(job.id, since, with_job=False):
            if kind == "log":
                yield render(item)
            elif kind == "keepalive":
                if client_gone(environ):
                    return
                if keepalive:
                    yield keepalive

    response = _stream(generate)
    response.mimetype = mimetype
    return response


def resume_cursor(since: int) -> int:
    """The log cursor an event stream starts after: `Last-Event-ID` when sent, else `since`."""
    last_id = request.headers.get("Last-Event-ID")
    if last_id is None or last_id == "":
        return since
    if not (last_id.isascii() and last_id.isdigit() and len(last_id) <= MAX_CURSOR_DIGITS
            and int(last_id) <= INT32.max):
        raise ValidationFailed("Last-Event-ID must be an event id this stream sent",
                               details={"Last-Event-ID": ["not an event id"]})
    return int(last_id)


def event_response(job: Job, since: int, dump_job) -> Response:
    """`GET /jobs/{id}/events`: status, progress and log lines as SSE until the job ends.

    `dump_job` renders the job of each `status` event (the resource's schema). Every
    event carries the log cursor as its `id`, so a reconnecting `EventSource` (which
    sends it back as `Last-Event-ID`) gets only what it has not seen, and the current
    status once.
    """
    cursor = resume_cursor(since)
    environ = request.environ

    def generate():
        position = cursor
        yield f"retry: {SSE_RETRY_MS}\n\n"
        for kind, item in job_streams.follow(job.id, cursor):
            if kind == "log":
                position = item.id
                data, name = log_entry(item), "log"
            elif kind == "job":
                data, name = dump_job(item), "status"
            elif kind == "keepalive":
                if client_gone(environ):
                    return
                yield ": keep-alive\n\n"
                continue
            elif item == "terminal":
                data, name = {}, "end"
            else:
                return  # lifetime reached: the EventSource reconnects from `position`
            yield f"id: {position}\nevent: {name}\ndata: {json.dumps(data, default=str)}\n\n"

    response = _stream(generate)
    response.mimetype = "text/event-stream"
    return response
