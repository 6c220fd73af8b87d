"""Database outages while jobs run and write: every job ends `completed`, once, whole.

Real gunicorn, worker and beat run on a database of the test's own while clients submit
and read jobs: `py-steps` (a command: its run marker, then a numbered line every 0.1 s,
then a report file that becomes its artifact) and `sleep` (progress, current step and
log lines from Python). The database then goes away three times for a few seconds, in
one of its real ways:

- PostgreSQL `refused`: `ALLOW_CONNECTIONS false` and every backend terminated;
- PostgreSQL `stopped`: the server shut down (immediate, as a crash) and started again;
- SQLite `locked`: another process holds `BEGIN EXCLUSIVE` for longer than the busy timeout.

A lapsed lease is the other bound: an outage longer than it loses the attempt, which
runs again within the job's budget instead of failing.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import pytest

from app.migrate import upgrade
from tests.harness import wait_until
from tests.tasks.outages import Load, OutageStack

OUTAGES, OUTAGE_SECONDS = 3, 3.0
STEPS, STEP_SECONDS = 8, 0.1
SQLITE_BUSY_SECONDS = 1.5


def _bodies(marker: str) -> list[dict]:
    return [{"job_type": "py-steps", "project": "proj",
             "payload": {"marker": marker, "lines": STEPS, "pause": STEP_SECONDS}},
            {"job_type": "sleep", "project": "proj", "payload": {"seconds": 0.8}}]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _under_outages(stack: OutageStack, tenant: str, outage) -> tuple[Load, list]:
    """Worker, beat and gunicorn under load through OUTAGES calls of `outage()`.

    Returns the finished load, once every job it had accepted ended, and the (start, end)
    time of each outage.
    """
    stack.worker(queues="default")
    # The beat's periodic work on a worker of its own: it meets the outages, rather than
    # waiting behind jobs for a pool process.
    stack.worker("control", queues="control", concurrency=1)
    stack.beat()
    web = stack.web()
    windows = []
    with Load(web.port, tenant, _bodies(stack.marker), clients=2, pause=1.0) as load:
        for _ in range(OUTAGES):
            load.wait_accepted(4, "jobs accepted between outages")
            started = _now()
            outage()
            windows.append((started, _now()))
        load.wait_accepted(2, "jobs accepted after the last outage")

    def all_ended():
        return all(load.get(f"/jobs/{job_id}")["status"] in ("completed", "failed", "cancelled")
                   for job_id in load.accepted)

    wait_until(all_ended, 120, interval=0.5, message="every accepted job to end")
    return load, windows


def _check(stack: OutageStack, load: Load, windows: list) -> None:
    """Every accepted job completed once, with its writes whole and in order; every refusal
    a 503 with Retry-After; the beat's runs skipped; no traceback in any log."""
    assert not load.unexpected(), load.unexpected()[:3]
    refused = load.refused()
    assert refused, "no request met an outage"
    assert all(body["error"]["code"] == "service_unavailable" and retry == "5"
               and body["error"]["request_id"] for body, retry in refused), refused[:3]

    ran = stack.ran()
    during = 0
    for job_id in load.accepted:
        job = load.get(f"/jobs/{job_id}")
        assert (job["status"], job["error"]) == ("completed", None), job
        entries = load.get_logs(job_id)
        during += sum(any(start <= dt.datetime.fromisoformat(entry["at"]) <= end
                          for start, end in windows) for entry in entries)
        if load.job_types[job_id] == "py-steps":
            assert ran.count(job_id) == 1, f"job {job_id} ran {ran.count(job_id)} times"
            printed = [entry["message"] for entry in entries if entry["stream"] == "stdout"]
            assert printed == [f"step {i}" for i in range(STEPS)], (job_id, printed)
            assert [artifact["name"] for artifact in job["artifacts"]] == ["steps.txt"]
        else:
            assert [entry["message"] for entry in entries] == ["sleeping 0.8s", "done"]
            assert job["progress"] == 1.0 and job["current_step"].startswith("slept 0s")
    assert during, "no log line was written while the database was away"

    def log(name: str) -> str:
        return (stack.folder / name).read_text(errors="replace")

    assert "skipped: the database does not answer" in log("control.log")  # beat's periodic runs
    assert "writes are kept and tried again" in log("worker.log")  # running attempts buffered
    for name in ("worker.log", "control.log", "web.log", "beat.log"):
        text = log(name)
        assert "Traceback" not in text, f"{name}: {text[text.index('Traceback') - 500:][:3000]}"
    print(f"{len(load.accepted)} jobs, {len(refused)} of {len(load.answers)} requests "
          f"answered 503, {during} log lines written during the outages")


@pytest.mark.slow
@pytest.mark.parametrize("form", ["refused", "stopped"])
def test_running_jobs_write_through_postgres_outages(outage_stack, tenant, form):
    stack, postgres = outage_stack, outage_stack.postgres

    def outage():
        if form == "refused":
            postgres.refuse_connections("taskplane")
            time.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to wait for
            postgres.allow_connections("taskplane")
        else:
            postgres.stop()
            time.sleep(OUTAGE_SECONDS)
            postgres.start()

    _check(stack, *_under_outages(stack, tenant, outage))


@pytest.fixture
def sqlite_stack(database_url, settings, app_factory, tmp_path):
    """An `OutageStack` on a SQLite file of its own, with a short busy timeout."""
    if not database_url.startswith("sqlite"):
        pytest.skip("runs once per suite, in the SQLite session")
    url = f"sqlite:///{tmp_path / 'outage.db'}"
    upgrade(url)
    stack = OutageStack(url, settings, app_factory, tmp_path,
                        sqlite_busy_timeout_seconds=SQLITE_BUSY_SECONDS)
    yield stack
    stack.stop()


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@pytest.mark.slow
def test_running_jobs_write_through_a_held_sqlite_lock(sqlite_stack, tenant):
    stack = sqlite_stack
    path = stack.database_url.removeprefix("sqlite:///")

    def outage():
        hold = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, path,
                                 str(SQLITE_BUSY_SECONDS + OUTAGE_SECONDS)],
                                stdout=subprocess.PIPE, text=True)
        assert hold.stdout.readline().strip() == "locked"
        assert hold.wait(timeout=60) == 0

    _check(stack, *_under_outages(stack, tenant, outage))


@pytest.mark.slow
def test_an_outage_longer_than_the_lease_loses_the_attempt_which_runs_again(
        postgres, settings, app_factory, tmp_path, tenant):
    stack = OutageStack(postgres.url("taskplane"), settings, app_factory, tmp_path,
                        postgres=postgres, job_lease_seconds=3.0)
    try:
        worker = stack.worker(queues="default")
        lines = 40  # 4 s of work: still running when the lease lapses
        body = {"job_type": "py-steps", "project": "proj",
                "payload": {"marker": stack.marker, "lines": lines, "pause": STEP_SECONDS}}
        load = Load(stack.web().port, tenant, [])
        job_id = load.post("/jobs", body)["id"]
        wait_until(lambda: len(load.get_logs(job_id)) >= 2, 60,
                   message="the first attempt to write its lines")

        postgres.stop()
        wait_until(lambda: "is lost" in worker.log(), 30, message="the attempt to be lost")
        postgres.start()

        job = wait_until(lambda: (job := load.get(f"/jobs/{job_id}"))["status"] == "completed"
                         and job, 60, message="the job to complete")
        assert (job["attempts"], job["error"]) == (2, None)
        assert stack.ran() == [job_id, job_id]  # the lost attempt started, then the next
        printed = [(entry["attempt"], entry["message"]) for entry in load.get_logs(job_id)
                   if entry["stream"] == "stdout" and entry["attempt"] == 2]
        assert printed == [(2, f"step {i}") for i in range(lines)]
        assert "is lost" in worker.log() and "Traceback" not in worker.log()
        assert "Traceback" not in (tmp_path / "web.log").read_text()
    finally:
        stack.stop()
