"""`job_streams`: the follow loop behind every stream, and the per-process stream slots."""

from __future__ import annotations

import threading
import time

import pytest

from app.errors import Unavailable
from app.extensions import db
from app.models import Job
from app.services import job_streams
from app.services.slots import Slots
from tests.harness import wait_until


@pytest.fixture
def quiet_job(worker, caller):
    """A running job that logged one line and then stays silent; cancelled at the end."""
    alice = caller("viewer")
    job_id = alice.submit("py-hang", {}).get_json()["id"]
    wait_until(lambda: alice.get(f"/jobs/{job_id}/logs").get_data(), 30,
               message="the job's first log line")
    yield job_id
    alice.post(f"/jobs/{job_id}/cancel")


def follow_in_thread(job_id: str, seen: list, stop: threading.Event) -> threading.Thread:
    """Iterate `follow()` in a thread (its own session), appending each kind, until `stop`."""

    def run():
        stream = job_streams.follow(job_id, 0)
        try:
            for kind, _item in stream:
                seen.append(kind)
                if stop.is_set():
                    return
        finally:
            stream.close()
            db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_idle_followers_hold_no_database_connection_between_polls(app_factory, quiet_job):
    app_factory(stream_keepalive_seconds=0.2, log_follow_poll_max_seconds=0.2)
    stop, seen = threading.Event(), [[] for _ in range(8)]
    threads = [follow_in_thread(quiet_job, kinds, stop) for kinds in seen]
    try:
        wait_until(lambda: all("log" in kinds for kinds in seen), 30,
                   message="every follower's first line")
        # Eight streams polling every 0.2 s: were a connection held while a stream sleeps,
        # the pool would never be back to none checked out.
        wait_until(lambda: db.engine.pool.checkedout() == 0, 10,
                   message="the pool with no connection checked out")
        wait_until(lambda: all("keepalive" in kinds for kinds in seen), 10,
                   message="a keep-alive on every idle follower")
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def test_follow_ends_at_its_maximum_lifetime_while_the_job_runs(app_factory, quiet_job):
    app_factory(stream_max_seconds=1.0)
    kinds = []
    for kind, item in job_streams.follow(quiet_job, 0):
        kinds.append((kind, item if kind == "end" else None))
    db.session.remove()
    assert kinds[0] == ("job", None) and ("log", None) in kinds
    assert kinds[-1] == ("end", "lifetime")


def test_a_shorter_max_seconds_ends_follow_sooner(app, quiet_job):
    started = time.monotonic()
    items = list(job_streams.follow(quiet_job, 0, max_seconds=0.5))
    db.session.remove()
    assert items[-1] == ("end", "lifetime") and time.monotonic() - started < 5


def test_follow_of_an_ended_job_gives_status_every_line_after_the_cursor_then_end(
        app, caller, worker):
    alice = caller("viewer")
    job_id = alice.submit("py-lines", {"count": 3, "text": "x"}).get_json()["id"]
    alice.wait_status(job_id, "completed", timeout=30)
    items = list(job_streams.follow(job_id, 0))
    first_line = next(item.id for kind, item in items if kind == "log")
    rest = [(kind, item) for kind, item in job_streams.follow(job_id, first_line)]
    db.session.remove()
    assert [kind for kind, _ in items] == ["job", "log", "log", "log", "log", "end"]
    assert [kind for kind, _ in rest] == ["job", "log", "log", "log", "end"]
    assert all(item.id > first_line for kind, item in rest if kind == "log")


def test_stream_slots_refuse_past_the_limit_and_release_once(app_factory):
    app_factory(stream_slots=2)
    slots = Slots()
    first, second = slots.acquire(), slots.acquire()
    with pytest.raises(Unavailable) as refused:
        slots.acquire()
    assert refused.value.headers["Retry-After"] and refused.value.details["limit"] == 2
    first()
    first()  # a second release of the same slot frees nothing more
    assert slots.open == 1
    third = slots.acquire()
    with pytest.raises(Unavailable):
        slots.acquire()
    second()
    third()
    assert slots.open == 0


def test_log_page_gives_the_lines_after_the_cursor_and_the_cursor_after_them(
        app, caller, worker):
    alice = caller("viewer")
    job_id = alice.submit("py-lines", {"count": 3, "text": "x"}).get_json()["id"]
    alice.wait_status(job_id, "completed", timeout=30)
    job = db.session.get(Job, job_id)
    every, end = job_streams.log_page(job, 0, 100)
    first, after_first = job_streams.log_page(job, 0, 1)
    rest, after_rest = job_streams.log_page(job, after_first, 100)
    none, unchanged = job_streams.log_page(job, end, 100)
    db.session.remove()
    assert len(every) == 4 and end == every[-1].id
    assert [e.id for e in first] == [every[0].id] and after_first == every[0].id
    assert [e.id for e in rest] == [e.id for e in every[1:]] and after_rest == end
    assert none == [] and unchanged == end  # nothing new: the cursor stays where it was
