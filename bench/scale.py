"""Taskplane against itself: submits with a long history, list pages on a big table, and
submits while streams and waits are open. Each compares two figures of one run.

  history    wrk POST /jobs for a fresh tenant, then for one with N jobs created in the
             last hour (bulk SQL, with the submission buckets admission would have kept).
  list       GET /jobs?limit=50 p50 for a tenant with 1,000 jobs, then for one with
             1,000,000 (bulk SQL: a recursive CTE on SQLite, generate_series on PostgreSQL).
  followers  wrk POST /jobs alone, then with 100 open `logs?follow=true` streams and 20
             `Prefer: wait=60` submits of jobs no worker runs (they wait the whole minute).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import statistics
import threading
import time
import uuid

from sqlalchemy import text

from tests.harness import HarnessError, http_request

PAYLOAD = json.dumps({"message": "bench"})
COLUMNS = ("id, job_type, status, tenant, project, actor, payload, priority, progress, "
           "attempts, max_retries, cancel_requested, created_at, updated_at")
# n = 1..:count; ids are `<8 hex>-<27 digits>` (36 characters, the column's size).
BULK = {
    "sqlite": f"""
        WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :count)
        INSERT INTO jobs ({COLUMNS})
        SELECT printf('%s-%027d', :prefix, n), 'echo', 'completed', :tenant, 'bench',
               'bench', :payload, 5, 1.0, 1, 1, 0,
               datetime(:now, printf('-%d seconds', n % :spread)), :now FROM seq""",
    "postgresql": f"""
        INSERT INTO jobs ({COLUMNS})
        SELECT :prefix || '-' || lpad(n::text, 27, '0'), 'echo', 'completed', :tenant,
               'bench', 'bench', CAST(:payload AS json), 5, 1.0, 1, 1, false,
               CAST(:now AS timestamptz) - make_interval(secs => n % :spread),
               CAST(:now AS timestamptz)
        FROM generate_series(1, :count) AS n""",
}


def bulk_jobs(bench, tenant: str, count: int, spread_seconds: int) -> float:
    """Insert `count` completed jobs of `tenant`, created over the last `spread_seconds`.

    Returns the seconds it took. The submission buckets get what admission would have
    counted for them, so the quota sees the history a real tenant would have.
    """
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S") if bench.dialect == "sqlite" else now.isoformat()
    with bench.db() as conn:
        conn.execute(text(BULK[bench.dialect]),
                     {"count": count, "prefix": uuid.uuid4().hex[:8], "tenant": tenant,
                      "payload": PAYLOAD, "now": stamp, "spread": spread_seconds})
        # What autovacuum does after such a load; without fresh statistics PostgreSQL
        # plans the tenant's page as if the tenant had no rows (4x slower at 100,000).
        conn.execute(text("ANALYZE jobs"))
    _buckets(bench, tenant, now, count, spread_seconds)
    return time.perf_counter() - started


def _buckets(bench, tenant: str, now: dt.datetime, count: int, spread: int) -> None:
    """The per-minute submission counts of jobs created at now - (n % spread) s, n=1..count."""
    from app.extensions import db
    from app.models import JobSubmissions

    full, rest = divmod(count, spread)  # offset o = n % spread occurs full (+1 if o <= rest)
    per_minute: dict[dt.datetime, int] = {}
    for offset in range(spread):
        minute = (now - dt.timedelta(seconds=offset)).replace(second=0)
        per_minute[minute] = per_minute.get(minute, 0) + full + (0 < offset <= rest)
    with bench.flask_app.app_context():
        db.session.execute(JobSubmissions.__table__.insert(),
                           [{"tenant": tenant, "job_type": "echo", "minute": minute,
                             "count": n} for minute, n in per_minute.items() if n])
        db.session.commit()


def wrk_rate(bench, server, tenant: str, seconds: float) -> dict:
    """wrk's figures for POST /jobs as `tenant` (bench/submit.lua with its X-Tenant)."""
    script = bench.folder / f"submit-{tenant}.lua"
    script.write_text(bench.lua_script.read_text().replace("bench-http", tenant))
    return bench.wrk(server, seconds, script=script)


def measure_history(bench) -> None:
    """Submit rate of a tenant with N jobs in the last hour against a fresh table.

    After the insert, the loaded tenant and the fresh one alternate, so the note shows
    what the machine's load did to the fresh tenant's figure meanwhile.
    """
    n = bench.args.history_jobs
    fresh, loaded = f"bench-fresh-{uuid.uuid4().hex[:6]}", f"bench-history-{uuid.uuid4().hex[:6]}"
    for tenant in (fresh, loaded):
        bench.lift_quota(tenant)
    rates = {"before": [], fresh: [], loaded: []}
    with bench.gunicorn("app:create_app()", "history") as server:
        bench.log(f"history: wrk {bench.args.duration:g}s x{bench.args.rounds} on a fresh table")
        wrk_rate(bench, server, fresh, bench.args.warmup)
        for _ in range(bench.args.rounds):
            rates["before"].append(wrk_rate(bench, server, fresh, bench.args.duration)["rps"])
        took = bulk_jobs(bench, loaded, n, 3000)
        bench.log(f"history: {n:,} jobs inserted in {took:.1f}s; wrk that tenant and the fresh "
                  "one, alternating")
        wrk_rate(bench, server, loaded, bench.args.warmup)
        for _ in range(bench.args.rounds):
            for tenant in (loaded, fresh):
                rates[tenant].append(wrk_rate(bench, server, tenant, bench.args.duration)["rps"])
    bench.purge()
    bench.add_row(f"history: {n:,} jobs in 1 h", "req/s", rates["before"], rates[loaded],
                  bar=0.9, note="bare = fresh table; taskplane = tenant with the history; "
                  f"fresh tenant after the insert: {statistics.median(rates[fresh]):,.1f}")


def page_p50(port: int, tenant: str, requests: int) -> float:
    """p50 in ms of GET /jobs?limit=50 as `tenant`, sequential, after 10 unmeasured."""
    headers = {"X-Actor": "bench", "X-Roles": "viewer", "X-Tenant": tenant}
    samples = []
    for i in range(10 + requests):
        start = time.perf_counter()
        status, data = http_request(port, "GET", "/jobs?limit=50", headers=headers, timeout=60)
        if status != 200 or len(json.loads(data)["items"]) != 50:
            raise HarnessError(f"GET /jobs answered {status}: {data[:300]!r}")
        if i >= 10:
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure_list(bench) -> None:
    """GET /jobs?limit=50 p50 for a tenant with 1,000 jobs against one with `list_jobs`."""
    small, big = f"bench-list-{uuid.uuid4().hex[:6]}", f"bench-list-{uuid.uuid4().hex[:6]}"
    bulk_jobs(bench, small, 1000, 3000)
    with bench.gunicorn("app:create_app()", "list") as server:
        before = page_p50(server.port, small, bench.args.list_requests)
        took = bulk_jobs(bench, big, bench.args.list_jobs, 3000)
        bench.log(f"list: {bench.args.list_jobs:,} jobs inserted in {took:.1f}s")
        after = page_p50(server.port, big, bench.args.list_requests)
    bench.add_row(f"list p50, {bench.args.list_jobs:,} vs 1k", "ms", [before], [after],
                  bar=1.5, higher_is_better=False,
                  note="bare = tenant with 1,000 jobs, taskplane = the big tenant")


class Streams:
    """`followers` open `logs?follow=true` streams and `waits` looping `Prefer: wait=60` submits."""

    def __init__(self, port: int, tenant: str, job_ids: list[str], waits: int):
        self.port, self.tenant, self.stop = port, tenant, threading.Event()
        self.sockets = [self._follow(job_id) for job_id in job_ids]
        self.threads = [threading.Thread(target=self._wait, daemon=True) for _ in range(waits)]
        for thread in self.threads:
            thread.start()

    def _follow(self, job_id: str) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(f"GET /jobs/{job_id}/logs?follow=true HTTP/1.1\r\nHost: bench\r\n"
                     f"X-Actor: bench\r\nX-Roles: viewer\r\nX-Tenant: {self.tenant}\r\n\r\n"
                     .encode())
        return sock

    def _wait(self) -> None:
        body = json.dumps({"job_type": "echo", "payload": {"message": "w"},
                           "project": "bench"}).encode()
        headers = {"Content-Type": "application/json", "X-Actor": "bench", "X-Roles": "viewer",
                   "X-Tenant": self.tenant, "Prefer": "wait=60"}
        while not self.stop.is_set():
            try:
                http_request(self.port, "POST", "/jobs", body, headers, timeout=90)
            except OSError:
                time.sleep(0.1)

    def close(self) -> None:
        """Close the streams; the waiting threads end with their server."""
        self.stop.set()
        for sock in self.sockets:
            sock.close()


def measure_followers(bench) -> None:
    """Submit rate alone, then with 100 open followers and 20 waiting submits."""
    from app.auth import Principal
    from app.services import jobs

    tenant = f"bench-follow-{uuid.uuid4().hex[:6]}"
    bench.lift_quota(tenant)
    principal = Principal(actor="bench", roles=("viewer",), tenant=tenant)
    with bench.flask_app.app_context():
        ids = [jobs.submit(principal, job_type="echo", payload={"message": "f"},
                           project="bench", priority=5)[0].id for _ in range(100)]
    with bench.gunicorn("app:create_app()", "followers") as server:
        bench.log(f"followers: wrk {bench.args.duration:g}s alone")
        wrk_rate(bench, server, tenant, bench.args.warmup)
        alone = wrk_rate(bench, server, tenant, bench.args.duration)
        streams = Streams(server.port, tenant, ids, 20)
        try:
            time.sleep(1)  # let the streams and waits reach the server before measuring
            bench.log("followers: wrk with 100 followers and 20 waits open")
            loaded = wrk_rate(bench, server, tenant, bench.args.duration)
        finally:
            streams.close()
    bench.purge()
    bench.add_row("100 followers + 20 waits", "req/s", [alone["rps"]], [loaded["rps"]],
                  bar=0.8, note=f"bare = no streams open; {loaded['socket_errors']} socket "
                  "errors with them")
