"""Real processes for the tests and the benchmarks: redis-server, Celery workers, gunicorn.

A RabbitMQ broker, when a run asks for one, is the machine's server in a vhost of the run's own.

Each runs in its own session (so Ctrl-C in the terminal reaches only the test run or
benchmark, which then stops them in order), logs to a file, and listens on 127.0.0.1
only.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
import sqlalchemy.event
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
IDLE_QUEUE = "bench-idle"


class HarnessError(RuntimeError):
    """Something a test run or benchmark needs did not happen (a process died, a wait timed out)."""


def suite_databases() -> list[str]:
    """The databases the suite runs on: SQLite, and PostgreSQL when
    `TASKPLANE_TEST_DATABASE_URL` names a server."""
    return ["sqlite"] + (["postgresql"] if os.environ.get("TASKPLANE_TEST_DATABASE_URL") else [])


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(wsgi_app) -> Iterator[str]:
    """`wsgi_app` over real HTTP on a free port (werkzeug, a thread per request): its URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def counted_sql(engine) -> Iterator[dict]:
    """The SQL statements (`sql`, in order) and commits (`commits`) `engine` runs meanwhile."""
    seen = {"sql": [], "commits": 0}

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        seen["sql"].append(statement)

    def on_commit(conn):
        seen["commits"] += 1

    sqlalchemy.event.listen(engine, "before_cursor_execute", on_execute)
    sqlalchemy.event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", on_execute)
        sqlalchemy.event.remove(engine, "commit", on_commit)


@contextmanager
def scratch_postgres(base_url: str, prefix: str) -> Iterator[str]:
    """A fresh database on the PostgreSQL server of `base_url`, dropped on exit; its URL."""
    base = make_url(base_url)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; raise `HarnessError` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def redis_copies(client: redis.Redis, job_id: str) -> dict[str, int]:
    """Messages of a job a Redis broker database holds: per queue list, and reserved (`unacked`)."""
    found = {}
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"list":
            raws = client.lrange(key, 0, -1)
        elif kind == b"hash":
            raws = client.hvals(key)
        elif kind == b"zset":
            raws = client.zrange(key, 0, -1)
        else:
            continue
        count = sum(job_id.encode() in raw for raw in raws)
        if count:
            found[key.decode()] = count
    return found


class Service:
    """A subprocess in its own session whose output goes to `log_path`."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None):
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def check_alive(self) -> None:
        """Raise `HarnessError` with the tail of the log when the process has exited."""
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise HarnessError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (warm shutdown), then SIGKILL the whole process group if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the whole process group (the process and every child it started)."""
        os.killpg(self.proc.pid, signum)

    def kill(self) -> None:
        """kill -9 of the whole process group, as a crash or the OOM killer would."""
        self.signal_group(signal.SIGKILL)
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.stop()


class RedisServer(Service):
    """A private redis-server on a free loopback port, no persistence, 64 databases."""

    def __init__(self, folder: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            raise HarnessError("redis-server is not installed (`make test` installs it)")
        self.port = free_port()
        super().__init__("redis-server", [binary, "--port", str(self.port), "--bind",
                                          "127.0.0.1", "--save", "", "--appendonly", "no",
                                          "--dir", str(folder), "--databases", "64"],
                         folder / "redis.log")
        self.client = redis.Redis(port=self.port)
        wait_until(self._answers, 10, message="redis-server")

    def _answers(self) -> bool:
        self.check_alive()
        try:
            return self.client.ping()
        except redis.ConnectionError:
            return False

    def url(self, db: int = 0) -> str:
        """The redis:// URL of database `db` on this server."""
        return f"redis://127.0.0.1:{self.port}/{db}"


class RabbitVhost:
    """A RabbitMQ virtual host of its own for one test run (`rabbitmqctl`), deleted by `stop()`.

    Queues, exchanges and messages live in a vhost, so runs sharing one RabbitMQ server
    never see each other's messages.
    """

    def __init__(self, server_url: str):
        binary = shutil.which("rabbitmqctl")
        if binary is None:
            raise HarnessError("rabbitmqctl is not installed: it creates each run's vhost")
        parsed = urlsplit(server_url)
        self.name = f"taskplane-test-{uuid.uuid4().hex[:10]}"
        self._ctl = binary
        self._run("add_vhost", self.name)
        self._run("set_permissions", "-p", self.name, parsed.username or "guest", ".*", ".*", ".*")
        self.url = urlunsplit(parsed._replace(path=f"/{self.name}"))

    def _run(self, *args: str) -> None:
        done = subprocess.run([self._ctl, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise HarnessError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")

    def stop(self) -> None:
        """Delete the vhost with every queue and message in it."""
        self._run("delete_vhost", self.name)


class RabbitServer(Service):
    """A RabbitMQ node of its own on free loopback ports, for what only a server decides.

    `consumer_timeout_ms` (the redelivery window of an unacknowledged message) is a
    server setting before RabbitMQ 3.12, which a vhost of the shared server cannot change;
    the node checks it every `tick_ms` (a minute by default). Plugins off, guest/guest.
    """

    def __init__(self, folder: Path, consumer_timeout_ms: int = 1_800_000, tick_ms: int = 500):
        binary = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # as this user, not via su
        if not binary.exists():
            raise HarnessError("rabbitmq-server is not installed")
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        (folder / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                                              f"consumer_timeout = {consumer_timeout_ms}\n")
        (folder / "advanced.config").write_text(
            f"[{{rabbit, [{{channel_tick_interval, {tick_ms}}}]}}].\n")
        (folder / "plugins").write_text("[].\n")
        env = dict(os.environ, HOME=str(folder), RABBITMQ_DIST_PORT=str(free_port()),
                   RABBITMQ_NODENAME=f"taskplane-test-{uuid.uuid4().hex[:8]}@localhost",
                   RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq.conf"),
                   RABBITMQ_ADVANCED_CONFIG_FILE=str(folder / "advanced.config"),
                   RABBITMQ_ENABLED_PLUGINS_FILE=str(folder / "plugins"),
                   RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
                   RABBITMQ_LOG_BASE=str(folder / "log"), RABBITMQ_PID_FILE=str(folder / "pid"))
        super().__init__("rabbitmq-server", [str(binary)], folder / "rabbitmq.out", env)
        wait_until(self._answers, 120, interval=0.2, message="rabbitmq-server")

    def _answers(self) -> bool:
        self.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def url(self) -> str:
        """The amqp:// URL of the node's default vhost."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the node (the script and the Erlang VM it started), then SIGKILL."""
        if self.proc.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.proc.wait()
        self._log.close()


class CeleryWorker(Service):
    """`python -m celery -A <module> worker --pool=prefork --concurrency=2 ...`, as in tests.

    With `paused=True` it consumes only an empty queue until `consume()` is called, so a
    backlog can be timed from the moment the worker is ready, not from process start.
    """

    def __init__(self, module: str, env: dict, log_path: Path, *, paused: bool = False,
                 concurrency: int = 2, prefix: str = "bench", queues: str | None = None,
                 hostname: str | None = None):
        self.hostname = hostname or f"{prefix}-{uuid.uuid4().hex[:8]}@localhost"
        argv = [sys.executable, "-m", "celery", "-A", module, "worker", "--pool=prefork",
                f"--concurrency={concurrency}", "--loglevel=INFO",
                f"--hostname={self.hostname}", "--without-mingle", "--without-gossip"]
        if paused or queues:
            argv.append(f"--queues={IDLE_QUEUE if paused else queues}")
        super().__init__(f"worker {module}", argv, log_path, env)

    def wait_ready(self, control_app, timeout: float = 60) -> None:
        """Block until the worker answers a ping sent through `control_app`'s broker."""

        def pong():
            self.check_alive()
            replies = control_app.control.ping(destination=[self.hostname], timeout=0.5) or []
            return any(self.hostname in reply for reply in replies)

        wait_until(pong, timeout, interval=0.1, message=f"{self.name} ping")

    def pool_pids(self) -> list[int]:
        """Pids of the worker's pool processes."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True, check=False).stdout
        return [int(pid) for pid in out.split()]

    def log(self) -> str:
        """What the worker has printed so far."""
        return self.log_path.read_text(errors="replace")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the worker and its live pool processes have used so far."""
        ticks = 0
        for pid in (self.proc.pid, *self.pool_pids()):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def consume(self, control_app, queue: str) -> None:
        """Tell a paused worker to start consuming `queue` (waits for its acknowledgement)."""
        replies = control_app.control.add_consumer(queue, destination=[self.hostname],
                                                   reply=True, timeout=5)
        if not replies:
            raise HarnessError(f"{self.name} did not acknowledge add_consumer({queue!r})")


class CeleryBeat(Service):
    """`python -m celery -A <module> beat` as the Procfile starts it, with its own schedule."""

    def __init__(self, module: str, env: dict, folder: Path):
        argv = [sys.executable, "-m", "celery", "-A", module, "beat", "--loglevel=INFO",
                f"--schedule={folder / 'celerybeat-schedule'}"]
        super().__init__(f"beat {module}", argv, folder / "beat.log", env)

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until beat has sent its first periodic task."""
        wait_until(lambda: self.check_alive() or "Sending due task" in self.log(), timeout,
                   interval=0.1, message=f"{self.name} to send a task")

    def log(self) -> str:
        """What beat has printed so far."""
        return self.log_path.read_text(errors="replace")


class ProcessStack:
    """Processes one test starts for itself, in `folder` with `env`, stopped newest first."""

    env: dict
    folder: Path
    services: list

    def beat(self) -> CeleryBeat:
        """Beat of this stack (its settings say how often it sweeps), sending tasks."""
        beat = CeleryBeat("tasks", self.env, self.folder)
        self.services.append(beat)
        beat.wait_ready()
        return beat

    def stop_services(self) -> None:
        """Stop every process this stack started, newest first."""
        for service in reversed(self.services):
            service.stop()


class Gunicorn(Service):
    """gunicorn as the Procfile starts it (`--config config/gunicorn.py`) on a free port.

    `extra_args` override the config file (`--worker-class sync` for a bare benchmark side);
    `port` starts it on a given port (a restart where the last one ran).
    """

    def __init__(self, app_spec: str, env: dict, log_path: Path, workers: int = 2,
                 extra_args: tuple[str, ...] = (), port: int | None = None):
        self.port = port or free_port()
        # Its own prometheus-client folder beside its log (the config's default is per PORT).
        env = dict(os.environ if env is None else env)
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(log_path.parent / f"metrics-{self.port}"))
        argv = [str(Path(sys.executable).parent / "gunicorn"), "--config",
                str(ROOT / "config" / "gunicorn.py"), "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(workers), *extra_args, app_spec]
        super().__init__(f"gunicorn {app_spec}", argv, log_path, env)
        wait_until(self._answers, 60, interval=0.1, message=f"{self.name} /livez")
        wait_until(lambda: self._booted() >= workers, 60, interval=0.1,
                   message=f"{self.name} workers")

    def _answers(self) -> bool:
        self.check_alive()
        try:
            return http_request(self.port, "GET", "/livez")[0] == 200
        except OSError:
            return False

    def _booted(self) -> int:
        return self.log_path.read_text(errors="replace").count("Booting worker with pid")

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"


class S3Server(Service):
    """moto's S3-compatible server (`python -m moto.server`) on a free loopback port."""

    def __init__(self, folder: Path):
        self.port = free_port()
        super().__init__("moto server", [sys.executable, "-m", "moto.server", "-H",
                                         "127.0.0.1", "-p", str(self.port)],
                         folder / "moto.log")
        wait_until(self._answers, 60, interval=0.1, message="moto server")

    def _answers(self) -> bool:
        self.check_alive()
        try:
            return http_request(self.port, "GET", "/moto-api/")[0] == 200
        except OSError:
            return False

    @property
    def url(self) -> str:
        """The endpoint URL of the server."""
        return f"http://127.0.0.1:{self.port}"


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """One HTTP request to 127.0.0.1:`port` on a fresh connection; (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class PostgresCluster:
    """A private PostgreSQL cluster (initdb + pg_ctl) on a free loopback port, trust auth.

    Run as the `postgres` user when the tests run as root (PostgreSQL refuses root).
    `stop()` is an immediate shutdown, as a crash is; `start()` brings it back.
    """

    def __init__(self):
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not binaries:
            raise HarnessError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = binaries[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="taskplane-pg-"))  # a path postgres can reach
        self.data = self.folder / "data"
        self.port = free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bin / tool), *args], check=True,
                       capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", options, "-w", "start")

    def stop(self) -> None:
        """Immediate shutdown: every connection is cut, nothing is flushed politely."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def refuse_connections(self, database: str) -> None:
        """`database` takes no new connection, and every one it had is cut (server stays up)."""
        self._admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false',
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")

    def allow_connections(self, database: str) -> None:
        """`database` takes connections again."""
        self._admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

    def _admin(self, *statements: str) -> None:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
        engine.dispose()

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        """Stop the server if it runs and remove its files."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
