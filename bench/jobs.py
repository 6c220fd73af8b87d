"""Taskplane against bare Celery + Flask, measured in one run on this machine.

Three measurements, each once on the bare stack and once on Taskplane, with the same
redis-server, the same Celery settings (`celeryconfig.build`) and the same worker
flags (prefork, --concurrency=2, acks late, prefetch 1, JSON):

  drain    a backlog of N messages is enqueued while the worker is paused, then the
           worker starts consuming and we time until all N are done (jobs/s).
  http     wrk -c32 -t2 against POST /jobs under gunicorn as the Procfile runs it (req/s).
  latency  N sequential jobs, submit -> completed (p50 and p99 in ms).

Everything (redis-server, the database: a SQLite file or, with `--database`, a scratch
PostgreSQL database, workers, gunicorn) is started here on 127.0.0.1 and stopped at the
end, also on Ctrl-C. With `--broker amqp://…` (repeatable, beside `--broker redis`) the
same measurements run once per broker, each in a RabbitMQ vhost and a database of its
own, and a last table compares the brokers. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/jobs.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import scale  # noqa: E402
from bench.common import (  # noqa: E402
    Row,
    database_url,
    log,
    run_folder,
    run_main,
)
from bench.report import (  # noqa: E402
    broker_name,
    machine_facts,
    print_broker_comparison,
    print_report,
    save_results,
)
from tests.harness import (  # noqa: E402
    CeleryWorker,
    Gunicorn,
    HarnessError,
    RabbitVhost,
    RedisServer,
    http_request,
)

LUA_SCRIPT = ROOT / "bench" / "submit.lua"
JOB_BODY = json.loads(re.search(r"wrk\.body = '(.*)'", LUA_SCRIPT.read_text()).group(1))
HTTP_HEADERS = {"Content-Type": "application/json", "X-Actor": "bench", "X-Roles": "viewer"}
LATENCY_TENANT = "bench-latency"
HTTP_TENANT = "bench-http"  # bench/submit.lua's X-Tenant
# The bench measures throughput, not budgets: every limit stays on (and is counted, in
# Redis and in the database) but far above what a run can reach.
UNREACHED_RATE = "100000000/minute"
UNREACHED_QUOTA = {"max_active": 10**6, "max_per_hour": 10**6}  # the largest PUT /quotas takes
MEASUREMENTS = ("drain", "http", "latency", "history", "list", "followers")
QUEUE = "default"  # Taskplane's `echo` queue; the bare no-op tasks use the same one


class Bench:
    """One benchmark run: the shared redis-server and database, and the three measurements."""

    def __init__(self, args, folder: Path, redis_server: RedisServer, broker_url: str,
                 database_url: str):
        self.args = args
        self.folder = folder
        self.redis = redis_server
        self.database_url = database_url
        self.dialect = make_url(database_url).get_backend_name()
        self.broker_url = broker_url
        self.result_url = redis_server.url(1)
        limits = {f"TASKPLANE_RATE_LIMIT_{name}": UNREACHED_RATE
                  for name in ("SUBMIT", "WRITE", "READ")}
        taskplane = {"TASKPLANE_DATABASE_URL": self.database_url,
                     "TASKPLANE_BROKER_URL": self.broker_url,
                     "TASKPLANE_REDIS_URL": redis_server.url(0),
                     "TASKPLANE_VAR_DIR": str(folder), **limits}
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **taskplane)
        self.env.pop("BENCH_RESULT_BACKEND", None)
        os.environ.update(BENCH_RESULT_BACKEND=self.result_url, **taskplane)
        from app import create_app

        self.flask_app = create_app({"database_url": self.database_url,
                                     "broker_url": self.broker_url})
        from app.extensions import runtime_of

        self.on_redis = runtime_of(self.flask_app).settings.broker_is_redis
        for tenant in (HTTP_TENANT, LATENCY_TENANT):
            self.lift_quota(tenant)
        from bench import bare_tasks

        self.bare = importlib.reload(bare_tasks)  # its Celery app reads this run's broker
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.started = 0
        self.engine = None
        self.facts: list[str] = []  # machine facts, taken when the run starts

    # -- helpers ---------------------------------------------------------------------------

    log = staticmethod(log)  # progress lines; bench/scale.py's measurements call bench.log

    def worker(self, module: str, name: str, *, paused: bool = False,
               result_backend: bool = False) -> CeleryWorker:
        """Start a Celery worker on `module` with the run's env; logs in the run folder."""
        env = dict(self.env, BENCH_RESULT_BACKEND=self.result_url) if result_backend else self.env
        return CeleryWorker(module, env, self.log_path(f"worker-{name}"), paused=paused)

    def gunicorn(self, app_spec: str, name: str, **env) -> Gunicorn:
        """Start gunicorn (config/gunicorn.py, 2 workers) on `app_spec`, run's env plus `env`."""
        return Gunicorn(app_spec, dict(self.env, **env), self.log_path(f"gunicorn-{name}"))

    def log_path(self, name: str) -> Path:
        """A fresh log file in the run folder, numbered in start order."""
        self.started += 1
        return self.folder / f"{self.started:02d}-{name}.log"

    def db(self):
        """An autocommit connection to the run's database (sees each commit at once)."""
        if self.engine is None:
            self.engine = create_engine(self.database_url, isolation_level="AUTOCOMMIT")
        return self.engine.connect()

    def broker_backlog(self) -> int:
        """Messages of QUEUE waiting (all priority lists) or delivered but not yet acked.

        On RabbitMQ, a passive declare counts the ready messages only: the (at most
        concurrency x prefetch = 2) delivered and not yet acked are not seen.
        """
        if not self.on_redis:
            with self.bare.app.connection_for_write() as conn:
                return conn.default_channel.queue_declare(QUEUE, passive=True).message_count
        options = self.bare.app.conf.broker_transport_options
        sep = options.get("sep", ":")
        keys = [QUEUE] + [f"{QUEUE}{sep}{p}" for p in options.get("priority_steps", []) if p]
        pipe = self.redis.client.pipeline()
        for key in keys:
            pipe.llen(key)
        pipe.hlen(options.get("unacked_key", "unacked"))
        return sum(pipe.execute())

    def purge(self) -> None:
        """Drop every message left in the queues (after a measurement that only enqueues)."""
        self.bare.app.control.purge()
        if self.broker_backlog():
            raise HarnessError("queues still hold messages after purge")

    # -- (a) drain -------------------------------------------------------------------------

    def drain_until(self, worker: CeleryWorker, control_app, done, total: int):
        """Unpause `worker`, time from its first finished job until `done()` reaches `total`.

        The clock starts at the first finished job, not at `add_consumer`: a paused worker
        only notices its new queue when its idle BRPOP on the old one times out (up to 1 s).
        Returns (elapsed s, jobs finished while the clock ran, whether all `total` finished,
        CPU seconds the worker's processes used meanwhile).
        """
        worker.wait_ready(control_app)
        worker.consume(control_app, QUEUE)
        limit = time.perf_counter() + self.args.drain_timeout
        while not (first := done()):
            if time.perf_counter() > limit:
                raise HarnessError(f"{worker.name} finished nothing in {self.args.drain_timeout}s")
            time.sleep(0.001)
        start, cpu = time.perf_counter(), worker.cpu_seconds()
        while True:
            finished = done()
            elapsed = time.perf_counter() - start
            if finished >= total or elapsed + start > limit:
                cpu = worker.cpu_seconds() - cpu
                return elapsed, finished - first, finished >= total, cpu
            worker.check_alive()
            time.sleep(0.02)

    def drain_bare(self) -> tuple[float, str]:
        """Bare: N `noop.delay()` while no worker runs, then time the worker through them."""
        n = self.args.jobs
        self.log(f"drain/bare: enqueue {n} no-op tasks")
        for _ in range(n):
            self.bare.noop.delay()
        with self.worker("bench.bare_tasks", "drain-bare", paused=True) as worker:
            timing = self.drain_until(worker, self.bare.app, lambda: n - self.broker_backlog(), n)
        self.purge()  # a drain cut by --drain-timeout leaves messages behind
        return self._drain_rate("bare", n, *timing)

    def lift_quota(self, tenant: str) -> None:
        """Set the tenant's `echo` quota far above the run, through the admin service call."""
        from app.auth import Principal
        from app.services import quotas

        admin = Principal(actor="bench", roles=("admin",), tenant=tenant)
        with self.flask_app.app_context():
            quotas.set_limits(admin, tenant, JOB_BODY["job_type"], UNREACHED_QUOTA)

    def drain_taskplane(self, tenant: str) -> tuple[float, str]:
        """Taskplane: N `echo` jobs through the service layer, then time until N rows completed."""
        from app.auth import Principal
        from app.services import jobs

        n = self.args.jobs
        self.log(f"drain/taskplane: submit {n} echo jobs through app.services.jobs.submit")
        principal = Principal(actor="bench", roles=("viewer",), tenant=tenant)
        self.lift_quota(tenant)
        start = time.perf_counter()
        with self.flask_app.app_context():
            for _ in range(n):
                jobs.submit(principal, job_type=JOB_BODY["job_type"], payload=JOB_BODY["payload"],
                            project=JOB_BODY["project"], priority=5)
        submit_rate = n / (time.perf_counter() - start)
        self.log(f"drain/taskplane: in-process jobs.submit ran at {submit_rate:,.0f}/s "
                 "(not part of the drain figure)")
        conn = self.db()
        count = text("SELECT COUNT(*) FROM jobs WHERE tenant = :tenant AND status = :status")

        def completed() -> int:
            if conn.execute(count, {"tenant": tenant, "status": "failed"}).scalar():
                raise HarnessError("an echo job failed during the drain")
            return conn.execute(count, {"tenant": tenant, "status": "completed"}).scalar()

        with self.worker("tasks", "drain-taskplane", paused=True) as worker:
            timing = self.drain_until(worker, self.flask_app.extensions["celery"], completed, n)
        conn.close()
        self.purge()  # a drain cut by --drain-timeout leaves messages behind
        return self._drain_rate("taskplane", n, *timing)

    def _drain_rate(self, side: str, total: int, elapsed: float, counted: int, complete: bool,
                    cpu: float):
        """Jobs/s of one drain, with a note when it was cut by --drain-timeout."""
        rate = counted / elapsed
        note = "" if complete else f"{side} cut at --drain-timeout"
        self.log(f"drain/{side}: {counted} of {total} timed, in {elapsed:.2f}s = {rate:,.0f}/s, "
                 f"worker CPU {1000 * cpu / max(counted, 1):.2f} ms/job {note}")
        return rate, note

    def measure_drain(self) -> None:
        """(a) backlog drain rate, bare vs Taskplane, alternating for --rounds rounds."""
        bare, taskplane, notes = [], [], []
        for round_ in range(self.args.rounds):
            rate, note = self.drain_bare()
            bare.append(rate)
            notes.append(note)
            rate, note = self.drain_taskplane(f"bench-drain-{round_}")
            taskplane.append(rate)
            notes.append(note)
        self.add_row(f"drain {self.args.jobs:,} jobs", "jobs/s", bare, taskplane, bar=0.6,
                     note="; ".join(filter(None, notes)))

    def add_row(self, metric: str, unit: str, bare: list[float], taskplane: list[float],
                **row) -> None:
        """Add the table row for the medians of per-round figures; note them when several."""
        self.rows.append(Row(metric, unit, statistics.median(bare), statistics.median(taskplane),
                             **row))
        if len(bare) > 1:
            self.notes.append(f"{metric} per round: bare "
                              f"{', '.join(f'{v:,.1f}' for v in bare)}; taskplane "
                              f"{', '.join(f'{v:,.1f}' for v in taskplane)}")

    # -- (b) http --------------------------------------------------------------------------

    lua_script = LUA_SCRIPT

    def wrk(self, server: Gunicorn, seconds: float, script: Path = LUA_SCRIPT) -> dict:
        """Run wrk -c32 -t2 with `script` (bench/submit.lua) against POST /jobs; figures."""
        argv = [shutil.which("wrk") or "wrk", f"-c{self.args.connections}", "-t2",
                f"-d{seconds:g}s", "--latency", "--timeout", "10s", "-s", str(script),
                f"{server.url}/jobs"]
        out = subprocess.run(argv, capture_output=True, text=True, check=True,
                             timeout=seconds + 60).stdout
        figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                   "non2xx": 0, "socket_errors": 0}
        if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
            figures["non2xx"] = int(match.group(1))
        if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out):
            figures["socket_errors"] = sum(int(g) for g in match.groups())
        if match := re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE):
            figures["p50"] = match.group(1)
        return figures

    def http_side(self, side: str, app_spec: str, **env) -> tuple[float, str]:
        """Warm up, then measure one gunicorn app with wrk; workers are not running."""
        with self.gunicorn(app_spec, f"http-{side}", **env) as server:
            self.log(f"http/{side}: warm-up {self.args.warmup:g}s, "
                     f"then wrk {self.args.duration:g}s")
            self.wrk(server, self.args.warmup)
            figures = self.wrk(server, self.args.duration)
        self.purge()
        self.log(f"http/{side}: {figures['rps']:,.0f} req/s, wrk p50 {figures.get('p50')}, "
                 f"non-2xx {figures['non2xx']}, socket errors {figures['socket_errors']}")
        note = ""
        if figures["non2xx"]:
            note = f"{side}: {figures['non2xx']} non-2xx answers"
        return figures["rps"], note

    def measure_http(self) -> None:
        """(b) HTTP submit throughput under gunicorn, bare Flask vs Taskplane, alternating."""
        bare, taskplane, sent, notes = [], [], [], []
        sides = [("bare", bare, "bench.bare_app:app", {}),
                 ("taskplane", taskplane, "app:create_app()", {})]
        if not self.args.quick:  # the measurement behind TASKPLANE_TASK_SENT_EVENT's default
            sides.append(("taskplane-sent-event", sent, "app:create_app()",
                          {"TASKPLANE_TASK_SENT_EVENT": "true"}))
        for _ in range(self.args.rounds):
            for side, results, app_spec, env in sides:
                rps, note = self.http_side(side, app_spec, **env)
                results.append(rps)
                notes.append(note)
        self.add_row(f"POST /jobs, wrk -c{self.args.connections}", "req/s", bare, taskplane,
                     bar=0.5, note="; ".join(filter(None, notes)))
        if sent:
            self.add_row("  with task-sent event", "req/s", bare, sent,
                         note="TASKPLANE_TASK_SENT_EVENT=true")

    # -- (c) latency -----------------------------------------------------------------------

    def latency_bare(self, samples: dict[str, list[float]]) -> None:
        """Bare: `noop_result.delay().get()` N times in a row (Redis result backend).

        Appends to samples["total"] (delay() to get() returned) and samples["submit"]
        (delay() call alone), in ms.
        """
        task = self.bare.noop_result
        with self.worker("bench.bare_tasks", "latency-bare", result_backend=True) as worker:
            worker.wait_ready(self.bare.app)
            self.log(f"latency/bare: {self.args.latency_jobs} sequential delay().get()")
            for i in range(self.args.latency_warmup + self.args.latency_jobs):
                start = time.perf_counter()
                result = task.delay()
                sent = time.perf_counter()
                result.get(timeout=30)
                if i >= self.args.latency_warmup:
                    samples["total"].append((time.perf_counter() - start) * 1000)
                    samples["submit"].append((sent - start) * 1000)

    def latency_taskplane(self, samples: dict[str, list[float]]) -> None:
        """Taskplane: POST /jobs with `Prefer: wait=30` to gunicorn until it answers 200.

        Appends to samples["total"] (POST sent to the 200 with the completed job), and from
        the stored timestamps samples["stored"] (created_at -> completed_at) and
        samples["claim"] (created_at -> started_at), in ms.
        """
        body = json.dumps(JOB_BODY).encode()
        headers = dict(HTTP_HEADERS, **{"X-Tenant": LATENCY_TENANT, "Prefer": "wait=30"})
        measured = []
        with (self.gunicorn("app:create_app()", "latency-taskplane") as server,
              self.worker("tasks", "latency-taskplane") as worker):
            worker.wait_ready(self.flask_app.extensions["celery"])
            self.log(f"latency/taskplane: {self.args.latency_jobs} sequential POST /jobs "
                     "with Prefer: wait=30")
            for i in range(self.args.latency_warmup + self.args.latency_jobs):
                start = time.perf_counter()
                status, data = http_request(server.port, "POST", "/jobs", body, headers,
                                            timeout=60)
                answered = time.perf_counter()
                job = json.loads(data)
                if status != 200 or job["status"] != "completed":
                    raise HarnessError(f"POST /jobs with Prefer: wait answered {status}: "
                                       f"{data[:500]!r}")
                if i >= self.args.latency_warmup:
                    samples["total"].append((answered - start) * 1000)
                    samples["submit"].append((answered - start) * 1000)
                    measured.append(job)
        for job in measured:
            created, started, completed = (dt.datetime.fromisoformat(job[name]) for name in
                                           ("created_at", "started_at", "completed_at"))
            samples["stored"].append((completed - created).total_seconds() * 1000)
            samples["claim"].append((started - created).total_seconds() * 1000)

    def measure_latency(self) -> None:
        """(c) submit -> completed latency of sequential jobs, bare vs Taskplane, alternating.

        Samples of all rounds are pooled before taking p50 and p99.
        """
        bare = {"total": [], "submit": []}
        taskplane = {"total": [], "submit": [], "stored": [], "claim": []}
        for _ in range(self.args.rounds):
            self.latency_bare(bare)
            self.latency_taskplane(taskplane)
        n = self.args.latency_jobs * self.args.rounds
        for pct, bar in ((50, 2.0), (99, None)):
            self.rows.append(Row(f"latency p{pct}, {n} seq. jobs", "ms",
                                 percentile(bare["total"], pct),
                                 percentile(taskplane["total"], pct), bar=bar,
                                 higher_is_better=False))
        self.rows.append(Row("  of which submit call p50", "ms", percentile(bare["submit"], 50),
                             percentile(taskplane["submit"], 50), higher_is_better=False,
                             note="bare: delay() returns; taskplane: the whole waited POST"))
        self.notes.append(
            f"latency/taskplane, from the stored row (p50): created_at -> completed_at "
            f"{percentile(taskplane['stored'], 50):.2f} ms, created_at -> started_at "
            f"(claim) {percentile(taskplane['claim'], 50):.2f} ms")


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of `samples` (p50 of an even count is the lower middle)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Measure bare Celery/Flask and Taskplane in one run and print each pair "
        "with its ratio: (a) drain rate of a backlog of jobs, (b) POST /jobs throughput under "
        "gunicorn with wrk, (c) submit->completed latency of sequential jobs (Prefer: wait); "
        "and Taskplane against itself: submit rate with a long history, list page on a big "
        "table, submit rate with open streams. Starts its own redis-server, database (SQLite "
        "file, or a scratch PostgreSQL database with --database), Celery workers and gunicorn "
        "on 127.0.0.1 and stops them at the end. Needs redis-server and wrk on PATH.")
    parser.add_argument("--quick", action="store_true",
                        help="smaller run: 1 round, 1,000 drain jobs, 5 s of wrk, 100 latency "
                        "jobs, 20,000 history jobs, 100,000 list jobs, no task-sent side "
                        "(explicit options below still win)")
    parser.add_argument("--jobs", type=int, help="backlog size for the drain measurement "
                        "[default: 5000, 1000 with --quick]")
    parser.add_argument("--duration", type=float, help="seconds of wrk per side "
                        "[default: 10, 5 with --quick]")
    parser.add_argument("--warmup", type=float, help="seconds of wrk warm-up per side "
                        "before measuring [default: 2, 1 with --quick]")
    parser.add_argument("--rounds", type=int, help="rounds of drain, http and latency, bare "
                        "and Taskplane alternating; the table shows medians (latency: pooled "
                        "samples) [default: 2, 1 with --quick]")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections [default: 32]")
    parser.add_argument("--latency-jobs", type=int, help="sequential jobs measured for "
                        "latency [default: 300, 100 with --quick]")
    parser.add_argument("--latency-warmup", type=int, default=20,
                        help="sequential jobs run first and not measured [default: 20]")
    parser.add_argument("--drain-timeout", type=float, default=90,
                        help="seconds one drain may take; then it is cut and the rate is that "
                        "of the jobs finished so far [default: 90]")
    parser.add_argument("--only", choices=MEASUREMENTS, action="append",
                        help="run only this measurement (repeatable) [default: all]")
    parser.add_argument("--broker", action="append", metavar="URL",
                        help="broker to measure on (repeatable, in this order): `redis` (the "
                        "run's redis-server) or an amqp:// URL of a RabbitMQ server, where each "
                        "run gets a vhost of its own (made with rabbitmqctl); with several, a "
                        "last table compares them [default: redis]")
    parser.add_argument("--database", help="PostgreSQL server URL (postgresql://user@host/db): "
                        "each broker's run creates its own database there and drops it at the "
                        "end [default: a SQLite file in the run folder]")
    parser.add_argument("--history-jobs", type=int, help="jobs of the tenant created in the "
                        "last hour for the history ratio [default: 200000, 20000 with --quick]")
    parser.add_argument("--list-jobs", type=int, help="jobs of the big tenant for the list "
                        "page ratio [default: 1000000, 100000 with --quick]")
    parser.add_argument("--list-requests", type=int, default=200,
                        help="sequential GET /jobs?limit=50 per tenant [default: 200]")
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"),
                        help="folder of the JSON of each run [default: bench/results]")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp folder (database, process logs) and print its path")
    args = parser.parse_args(argv)
    args.broker = args.broker or ["redis"]
    defaults = {"jobs": (5000, 1000), "duration": (10, 5), "warmup": (2, 1), "rounds": (2, 1),
                "latency_jobs": (300, 100), "history_jobs": (200_000, 20_000),
                "list_jobs": (1_000_000, 100_000)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def main(argv=None) -> int:
    """Run the selected measurements and print the report; 0 when they ran (even with MISS)."""
    args = parse_args(argv)
    if shutil.which("wrk") is None and (not args.only or {"http", "history", "followers"}
                                        & set(args.only)):
        print("wrk is not installed: apt-get install -y wrk (make bench does it)",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        folder = run_folder(stack, "taskplane-bench-", args.keep)
        redis_server = stack.enter_context(RedisServer(folder))
        results = {}
        try:
            for broker in args.broker:
                results[broker] = run_on(broker, args, folder, redis_server, stack)
                results[broker].notes.append(f"run so far: {time.monotonic() - started:.0f} s")
        except HarnessError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        for broker, bench in results.items():
            print_report(bench.facts, bench.rows, bench.notes, args, broker_name(broker))
            saved = save_results(bench.facts, bench, args, broker_name(broker))
            print(f"\nresults: {saved}")
        if len(results) > 1:
            print_broker_comparison(results)
    return 0


def run_on(broker: str, args, folder: Path, redis_server: RedisServer, stack) -> Bench:
    """Every selected measurement on one broker, in a folder (and vhost) of its own."""
    if broker == "redis":
        url = redis_server.url(0)
    elif broker.startswith("amqp"):
        vhost = RabbitVhost(broker)
        stack.callback(vhost.stop)
        url = vhost.url
    else:
        raise HarnessError(f"--broker {broker!r}: give `redis` or an amqp:// URL")
    folder = folder / re.sub(r"\W+", "-", broker_name(broker))
    folder.mkdir()
    log(f"broker {broker_name(broker)}")
    bench = Bench(args, folder, redis_server, url, database_url(stack, folder, args.database))
    stack.callback(lambda: bench.engine and bench.engine.dispose())
    bench.facts = machine_facts(redis_server, bench)
    for name in MEASUREMENTS:
        if not args.only or name in args.only:
            if hasattr(bench, f"measure_{name}"):
                getattr(bench, f"measure_{name}")()
            else:
                getattr(scale, f"measure_{name}")(bench)
    return bench


if __name__ == "__main__":
    run_main(main)
