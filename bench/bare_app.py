"""The bare web side: Flask with one endpoint that publishes one no-op Celery task.

Run as `gunicorn bench.bare_app:app` with `TASKPLANE_BROKER_URL` set (same broker and
Celery settings as Taskplane, see bench/bare_tasks.py).
"""

from __future__ import annotations

from flask import Flask, request

from bench.bare_tasks import noop

app = Flask(__name__)


@app.post("/jobs")
def submit():
    """Read the JSON body, publish one no-op task with it, answer 202 with the task id."""
    body = request.get_json()
    result = noop.delay(body.get("payload"))
    return {"id": result.id, "status": "queued"}, 202


@app.get("/livez")
def livez():
    """The process is alive."""
    return {"status": "ok"}
