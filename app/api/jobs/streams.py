"""Log and event streams of one job: plain text, NDJSON and Server-Sent Events."""

from __future__ import annotations

import json
import time

from flask import Response, stream_with_context

from app.extensions import db, runtime
from app.models import Job, JobLog
from app.models.jobs import TERMINAL
from app.services import jobs

BATCH = 500
NDJSON = "application/x-ndjson"


def log_entry(entry: JobLog) -> dict:
    """One log line as NDJSON / SSE data."""
    return {"id": entry.id, "at": entry.at.isoformat(), "attempt": entry.attempt,
            "stream": entry.stream, "level": entry.level, "message": entry.message}


def render_text(entry: JobLog) -> str:
    """One log line as plain text."""
    return f"{entry.at.isoformat()} {entry.message}\n"


def render_ndjson(entry: JobLog) -> str:
    """One log line as a JSON line."""
    return json.dumps(log_entry(entry)) + "\n"


def follow(job: Job, since: int):
    """Yield ("log", entry) and ("job", job) items until the job is terminal and drained."""
    cursor, last_state = since, None
    poll = runtime.settings.log_follow_poll_seconds
    while True:
        db.session.rollback()  # end the read snapshot so new rows become visible
        job = db.session.get(Job, job.id, populate_existing=True)
        terminal = job.status in TERMINAL
        state = (job.status, job.progress, job.current_step, job.attempts)
        if state != last_state:
            last_state = state
            yield "job", job
        while True:
            entries = jobs.logs(job, cursor, BATCH)
            for entry in entries:
                cursor = entry.id
                yield "log", entry
            if len(entries) < BATCH:
                break
        if terminal:
            return
        time.sleep(poll)


def log_response(job: Job, since: int, limit: int, follow_: bool, accept: str) -> Response:
    """`GET /jobs/{id}/logs`: a page of lines, or a live stream with `follow`."""
    ndjson = NDJSON in accept
    render = render_ndjson if ndjson else render_text
    mimetype = NDJSON if ndjson else "text/plain"
    if not follow_:
        entries = jobs.logs(job, since, limit)
        next_cursor = entries[-1].id if entries else since
        response = Response("".join(render(e) for e in entries), mimetype=mimetype)
        response.headers["X-Next-Cursor"] = str(next_cursor)
        return response

    def generate():
        for kind, item in follow(job, since):
            if kind == "log":
                yield render(item)

    return Response(stream_with_context(generate()), mimetype=mimetype,
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def event_response(job: Job, since: int, present) -> Response:
    """`GET /jobs/{id}/events`: status, progress and log lines as SSE until terminal."""

    def generate():
        for kind, item in follow(job, since):
            if kind == "log":
                data, name, event_id = log_entry(item), "log", f"id: {item.id}\n"
            else:
                data, name, event_id = present(item), "status", ""
            yield f"{event_id}event: {name}\ndata: {json.dumps(data, default=str)}\n\n"
        yield "event: end\ndata: {}\n\n"

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
