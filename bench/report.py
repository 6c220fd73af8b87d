"""What a `bench/jobs.py` run prints and keeps: the machine it ran on, its table and notes,
its JSON file, and the brokers side by side."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import text

from bench.common import Row, print_table

if TYPE_CHECKING:
    from bench.jobs import Bench
    from tests.harness import RedisServer


def machine_facts(redis_server: RedisServer, bench: Bench) -> list[str]:
    """Lines describing this machine and the versions under test."""
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True,
                                 check=False).stdout.split(" [")[0]
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in
                         ("celery", "kombu", "redis", "flask", "flask-smorest", "sqlalchemy",
                          "gunicorn"))
    return [
        f"cores: {os.cpu_count()} ({len(os.sched_getaffinity(0))} usable), {model}; "
        f"load avg at start {os.getloadavg()[0]:.2f}",
        f"python {platform.python_version()} on {platform.platform()}",
        f"{versions}",
        f"{database_version(bench)}; "
        f"redis-server {redis_server.client.info('server')['redis_version']}; {wrk_version}",
    ]


def database_version(bench: Bench) -> str:
    """The database under test and its version."""
    with bench.db() as conn:
        if bench.dialect == "sqlite":
            version = conn.execute(text("SELECT sqlite_version()")).scalar()
            return f"sqlite {version} (WAL, synchronous=NORMAL)"
        return conn.execute(text("SELECT version()")).scalar().split(" on ")[0]


def save_results(facts: list[str], bench: Bench, args, broker: str) -> Path:
    """Write one broker's run as JSON under --results (git-ignored); returns the file."""
    folder = Path(args.results)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime('%Y%m%dT%H%M%S')
    path = folder / f"jobs-{bench.dialect}-{re.sub(r'[^a-z0-9]+', '-', broker)}-{stamp}.json"
    rows_out = [dict(dataclasses.asdict(row), ratio=row.ratio, verdict=row.verdict)
                for row in bench.rows]
    path.write_text(json.dumps({"database": bench.dialect, "broker": broker, "facts": facts,
                                "rows": rows_out, "notes": bench.notes, "args": vars(args)},
                               indent=2, default=str))
    return path


def print_report(facts: list[str], rows: list[Row], notes: list[str], args,
                 broker: str = "redis") -> None:
    """The machine facts, the results table and the notes, on stdout."""
    print(f"\nTaskplane vs bare Celery/Flask, same machine, same run; broker: {broker}")
    for line in facts:
        print(f"  {line}")
    overrides = os.environ.get("GUNICORN_CMD_ARGS")
    print(f"  workers: celery prefork --concurrency=2, acks late, prefetch 1, json "
          f"(celeryconfig.build); web: gunicorn -c config/gunicorn.py, 2 workers"
          f"{f' ({overrides})' if overrides else ''}; wrk -c{args.connections} -t2 "
          f"-d{args.duration:g}s")
    print_table(rows)
    print("\nnotes: ratio = taskplane / bare (history, list, followers: Taskplane against "
          "itself); medians of the rounds unless said otherwise.")
    if any(row.metric.startswith("drain") for row in rows):
        bare_done = ("queue lists + unacked hash empty (Redis)" if broker == "redis" else
                     "no ready message in the queue (passive declare; <= 2 unacked unseen)")
        print(f"  drain: timed from the first finished job to the last; bare done = {bare_done},")
        print("  taskplane done = COUNT(*) of completed rows = N (the run's database), "
              "polled every 20 ms.")
    if any(row.metric.startswith("latency") for row in rows):
        print("  latency: bare = noop_result.delay().get() (Redis result backend, pub/sub); "
              "taskplane = POST /jobs with")
        print("  `Prefer: wait=30` to gunicorn, until its 200 with the completed job.")
    for note in notes:
        print(f"  {note}")


def broker_name(broker: str) -> str:
    """`redis`, or the scheme and host of a broker URL (no credentials)."""
    if broker == "redis":
        return broker
    parsed = urlsplit(broker)
    return f"{parsed.scheme}://{parsed.hostname}:{parsed.port or 5672}"


def print_broker_comparison(results: dict) -> None:
    """Each metric on each broker side by side: the first broker against every other."""
    (first, base), *others = results.items()
    print(f"\nbrokers compared, same run (ratio = other / {broker_name(first)})")
    header = f"{'metric':<28} {'side':<10} {broker_name(first):>24}"
    header += "".join(f" {broker_name(name):>24} {'ratio':>7}" for name, _ in others)
    print(header)
    print("-" * len(header))
    for n, row in enumerate(base.rows):
        for side in ("bare", "taskplane"):
            value = getattr(row, side)
            line = f"{row.metric:<28} {side:<10} {value:>24,.1f}"
            for _, bench in others:
                other = getattr(bench.rows[n], side)
                line += f" {other:>24,.1f} {other / value if value else math.nan:>6.2f}x"
            print(line)
