"""`GET /jobs/{id}/logs` and `GET /jobs/{id}/events` against jobs run by a real worker."""

from __future__ import annotations

import json
import re

import pytest

LOG_FIELDS = {"id", "at", "attempt", "stream", "level", "message"}


@pytest.fixture
def alice(caller):
    """The submitter and reader of this test's jobs."""
    return caller("viewer", actor="alice")


def finished_job(alice, job_type: str, payload: dict) -> str:
    """Submit a job, wait until it has completed, return its id."""
    job_id = alice.submit(job_type, payload).get_json()["id"]
    assert alice.wait_status(job_id, ("completed", "failed"), timeout=20)["status"] == "completed"
    return job_id


def ndjson(response) -> list[dict]:
    """The JSON object on each line of an NDJSON body."""
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def sse_events(body: str) -> list[tuple[str, dict]]:
    """(event name, data) of each event in a Server-Sent Events body (not `retry:` or comments)."""
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_logs_are_plain_text_lines_by_default(worker, alice):
    job_id = finished_job(alice, "py-lines", {"count": 3, "text": "x"})

    response = alice.get(f"/jobs/{job_id}/logs")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    messages = [re.fullmatch(r"(\d{4}-\d\d-\d\dT\S+) (.*)", line)[2] for line in lines]
    assert sorted(messages) == ["line 0", "line 1", "line 2", "to stderr"]
    assert [m for m in messages if m.startswith("line")] == ["line 0", "line 1", "line 2"]


def test_since_cursor_resumes_exactly_after_the_last_line_read(worker, alice):
    job_id = finished_job(alice, "py-lines", {"count": 5, "text": "x"})
    every = [e["message"] for e in ndjson(alice.get(f"/jobs/{job_id}/logs",
                                                    headers={"Accept": "application/x-ndjson"}))]

    first = alice.get(f"/jobs/{job_id}/logs?limit=2")
    cursor = first.headers["X-Next-Cursor"]
    rest = alice.get(f"/jobs/{job_id}/logs?since={cursor}")
    end = alice.get(f"/jobs/{job_id}/logs?since={rest.headers['X-Next-Cursor']}")

    read = [line.split(" ", 1)[1]
            for page in (first, rest) for line in page.get_data(as_text=True).splitlines()]
    assert len(every) == 6
    assert read == every
    assert len(first.get_data(as_text=True).splitlines()) == 2
    assert end.get_data(as_text=True) == ""
    assert end.headers["X-Next-Cursor"] == rest.headers["X-Next-Cursor"]


def test_ndjson_gives_one_json_object_per_line(worker, alice):
    job_id = finished_job(alice, "py-lines", {"count": 2, "text": "x"})

    response = alice.get(f"/jobs/{job_id}/logs", headers={"Accept": "application/x-ndjson"})

    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    entries = ndjson(response)
    assert len(entries) == 3
    assert all(set(entry) == LOG_FIELDS for entry in entries)
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    by_message = {e["message"]: e for e in entries}
    assert by_message["line 1"]["stream"] == "stdout"
    assert by_message["line 1"]["level"] == "info"
    assert by_message["to stderr"]["stream"] == "stderr"
    assert by_message["to stderr"]["level"] == "error"
    assert {e["attempt"] for e in entries} == {1}


def test_follow_streams_until_the_job_ends(worker, alice):
    job_id = alice.submit("sleep", {"seconds": 1}).get_json()["id"]

    response = alice.get(f"/jobs/{job_id}/logs?follow=true")
    body = response.get_data(as_text=True)  # returns only once the stream has ended

    assert response.status_code == 200
    assert alice.get(f"/jobs/{job_id}").get_json()["status"] == "completed"
    assert [line.split(" ", 1)[1] for line in body.splitlines()] == ["sleeping 1.0s", "done"]


def test_events_stream_status_and_logs_then_end(worker, alice):
    job_id = alice.submit("sleep", {"seconds": 0.5}).get_json()["id"]

    response = alice.get(f"/jobs/{job_id}/events")
    events = sse_events(response.get_data(as_text=True))

    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert events[-1] == ("end", {})
    statuses = [data for name, data in events if name == "status"]
    assert statuses[-1]["status"] == "completed"
    assert statuses[-1]["id"] == job_id
    assert [data["message"] for name, data in events if name == "log"] == ["sleeping 0.5s", "done"]
    assert [name for name, _ in events].count("end") == 1
