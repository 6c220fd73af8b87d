"""Two beat processes by mistake: each periodic run is claimed once in the database."""

from __future__ import annotations

import datetime as dt
import re
import sys
import threading
import uuid

import pytest

from app.db import utcnow
from app.services.periodic import SPACING, claim
from tests.conftest import worker_env
from tests.harness import CeleryWorker, Service, wait_until

SWEEP = re.compile(r"Task taskplane\.sweep\[\S+\] succeeded in \S+: \{'(redispatched|skipped)'")


def test_a_run_is_claimed_once_until_the_spacing_of_its_interval_has_passed(app):
    name, now = f"test-{uuid.uuid4().hex[:8]}", utcnow()
    assert claim(name, 10, "a@one", now) is True  # the first run ever
    assert claim(name, 10, "b@two", now + dt.timedelta(seconds=1)) is False
    assert claim(name, 10, "b@two", now + dt.timedelta(seconds=10 * SPACING - 0.1)) is False
    assert claim(name, 10, "b@two", now + dt.timedelta(seconds=10 * SPACING)) is True


def test_concurrent_claims_of_one_run_have_one_winner(app):
    name, now = f"test-{uuid.uuid4().hex[:8]}", utcnow()
    claim(name, 10, "setup", now - dt.timedelta(seconds=60))
    results, start = [], threading.Barrier(6)

    def contend(n: int) -> None:
        with app.app_context():
            start.wait()
            results.append(claim(name, 10, f"w{n}@host", now))

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


@pytest.mark.e2e
def test_two_beats_sweep_once_per_interval(settings, private_broker, tmp_path):
    interval = 2
    env = dict(worker_env(dict(settings, broker_url=private_broker)),
               TASKPLANE_SWEEP_INTERVAL_SECONDS=str(interval),
               TASKPLANE_ARTIFACT_SWEEP_INTERVAL_SECONDS="3600")
    worker = CeleryWorker("tasks", env, tmp_path / "worker.log", prefix="periodic")
    beats = [Service(f"beat {n}", [sys.executable, "-m", "celery", "-A", "tasks", "beat",
                                   f"--schedule={tmp_path / f'beat-{n}'}", "--loglevel=INFO"],
                     tmp_path / f"beat-{n}.log", env) for n in (1, 2)]
    try:
        def outcomes() -> list[str]:
            worker.check_alive()
            for beat in beats:
                beat.check_alive()
            return SWEEP.findall(worker.log())

        runs = wait_until(lambda: len(found := outcomes()) >= 8 and found, 90, interval=0.2,
                          message="8 sweeps from two beats")
        sent = sum(beat.log_path.read_text().count("Sending due task sweep-jobs")
                   for beat in beats)
        assert sent >= len(runs)  # both beats sent their sweeps
        claimed, skipped = runs.count("redispatched"), runs.count("skipped")
        # Two clocks on one interval: one run claims, the other beat's run of it skips.
        assert claimed >= 2 and skipped >= 2
        assert abs(claimed - skipped) <= 2, runs
    finally:
        for beat in beats:
            beat.stop()
        worker.stop()
