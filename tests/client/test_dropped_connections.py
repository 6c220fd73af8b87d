"""A dropped connection never loses or doubles a submit: the web process is killed (-9) and
started again on its port while the bindings submit, read and cancel."""

from __future__ import annotations

import itertools
import logging
import socket
import threading

import pytest
import requests
from click.testing import CliRunner
from taskplane_client import ApiError, Client

from app.cli import main
from app.extensions import db
from app.models import Job
from tests.conftest import Caller, worker_env
from tests.harness import Gunicorn, wait_until

SUBMITTERS = 6


@pytest.fixture
def env(settings, private_broker):
    """A web process of this test: the session's database, a broker no worker reads."""
    return dict(worker_env(settings), TASKPLANE_BROKER_URL=private_broker)


def jobs_of(app, tenant: str) -> list[dict]:
    """Every job of `tenant`, through the API."""
    caller = Caller(app.test_client(), "ci", "operator", tenant)
    found, cursor = [], None
    while True:
        page = caller.get("/jobs", query_string={"limit": 500, **({"cursor": cursor}
                                                                   if cursor else {})}).get_json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


class Kept(logging.Handler):
    """The records of a logger, kept."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_submits_in_flight_when_the_web_process_dies_make_exactly_one_job_each(
        env, tmp_path, tenant, app_factory, private_broker):
    server = Gunicorn("app:create_app()", env, tmp_path / "gunicorn.log", workers=1)
    answered: dict[str, str] = {}  # the payload's message -> the job id the client was given
    failures: list[BaseException] = []
    stop = threading.Event()
    numbers = itertools.count()

    def submitter() -> None:
        client = Client(server.url, actor="ci", roles="operator", tenant=tenant, retries=10)
        while not stop.is_set():
            message = f"m-{next(numbers)}"
            try:  # no key given: the bindings make one
                answered[message] = client.submit("echo", {"message": message}, "faults")["id"]
            except BaseException as exc:  # noqa: BLE001 - any failure is a lost submit
                failures.append(exc)
                return

    resent = Kept()  # what the bindings say each time they send a request again
    logging.getLogger("taskplane_client").addHandler(resent)
    threads = [threading.Thread(target=submitter, daemon=True) for _ in range(SUBMITTERS)]
    for thread in threads:
        thread.start()
    restarted = None
    try:
        wait_until(lambda: len(answered) >= 40 or failures, 60, message="submits")
        server.kill()  # master and worker, with submits in flight
        killed_at = len(answered)
        restarted = Gunicorn("app:create_app()", env, tmp_path / "gunicorn-2.log", workers=1,
                             port=server.port)
        wait_until(lambda: len(answered) >= killed_at + 40 or failures, 90,
                   message="submits after the restart")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        logging.getLogger("taskplane_client").removeHandler(resent)
        if restarted is not None:
            restarted.stop()
        server.stop()

    assert failures == []
    assert any(r.getMessage().startswith("POST /jobs") for r in resent.records), \
        "no submit was in flight when the web process died"
    app = app_factory(broker_url=private_broker)
    jobs = jobs_of(app, tenant)
    per_message = {}
    for job in jobs:
        per_message.setdefault(job["payload"]["message"], []).append(job["id"])
    doubled = {m: ids for m, ids in per_message.items() if len(ids) > 1}
    assert doubled == {}
    assert {m: ids[0] for m, ids in per_message.items()} == answered  # none lost, none extra
    with app.app_context():
        assert all(db.session.get(Job, job_id).idempotency_key for job_id in answered.values())


class DroppingDoor:
    """A TCP door to the API that closes its first `drops` connections without a word
    (as a restarting server or a keep-alive connection closed under a client does), and
    relays the others to the API."""

    def __init__(self, target_port: int, drops: int):
        self.drops = drops
        self.accepted = 0
        self._target = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drops:
                conn.recv(65536)  # the request arrived; no answer comes
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self._target))
            for source, sink in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        """Stop accepting."""
        self._listener.close()


@pytest.fixture
def app(app_factory, private_broker):
    """The test app on a broker no worker reads: its jobs stay queued."""
    return app_factory(broker_url=private_broker)


@pytest.fixture
def api_port(api_url):
    """The port the test app listens on."""
    return int(api_url.rsplit(":", 1)[1])


def test_reads_and_cancels_are_sent_again_an_upload_is_not(api_port, tenant, tmp_path):
    direct = Client(f"http://127.0.0.1:{api_port}", actor="ci", roles="publisher",
                    tenant=tenant)
    job = direct.submit("sleep", {"seconds": 30}, "faults")
    artifact = direct.create_artifact("a.bin", "blob")

    door = DroppingDoor(api_port, drops=2)
    client = Client(f"http://127.0.0.1:{door.port}", actor="ci", roles="publisher",
                    tenant=tenant, retries=3)
    client.session.headers["Connection"] = "close"  # each call on a new connection
    try:
        assert client.job(job["id"])["id"] == job["id"]  # a read: two drops, then answered
        assert door.accepted == 3
        door.drops = 5
        assert client.cancel(job["id"])["status"] == "cancelled"  # a cancel: sent again
        assert door.accepted == 6
        door.drops = 8
        source = tmp_path / "a.bin"
        source.write_bytes(b"x" * 1000)
        with pytest.raises(requests.ConnectionError):  # a body sent once is not sent again
            client.upload_artifact(artifact["id"], source)
        assert door.accepted == 7
        door.drops = 0
        with pytest.raises(ApiError) as refused:  # a cancel the server refused stays refused
            client.cancel(job["id"])
        assert refused.value.status == 409 and not refused.value.resent
    finally:
        door.close()


def test_the_command_sends_an_idempotency_key_with_every_submit(api_url, app, tenant):
    run = CliRunner().invoke(main, ["--url", api_url, "--actor", "cli", "--roles", "operator",
                                    "--tenant", tenant, "submit", "echo", "--project", "p",
                                    "--payload", '{"message": "hi"}'])
    assert run.exit_code == 0, run.output
    [job] = jobs_of(app, tenant)
    with app.app_context():
        assert db.session.get(Job, job["id"]).idempotency_key
