"""`taskplane dev` (what `make run` runs): the whole stack up, a job through it, Ctrl-C down."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.harness import free_port, wait_until

HEADERS = {"X-Actor": "dev", "X-Roles": "viewer", "X-Tenant": "dev"}


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _get(url: str, **kwargs):
    """GET, or None while the server is not there yet (refused, or still starting up)."""
    try:
        return requests.get(url, timeout=10, **kwargs)
    except requests.RequestException:
        return None


def test_dev_serves_api_worker_and_flower_and_ctrl_c_stops_everything(tmp_path):
    api, flower, broker, job_metrics = free_port(), free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TASKPLANE_", "FLOWER_"))}
    env.update(TASKPLANE_VAR_DIR=str(tmp_path / "var"), PORT=str(api),
               FLOWER_PORT=str(flower), TASKPLANE_BROKER_URL=f"redis://127.0.0.1:{broker}/0",
               TASKPLANE_WORKER_METRICS_PORT=str(job_metrics))
    # Append mode: every process writes at the end, never at an offset a reader moved.
    log = (tmp_path / "dev.log").open("a")
    dev = subprocess.Popen([str(Path(sys.executable).parent / "taskplane"), "dev"], env=env,
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{api}"
        ready = wait_until(lambda: (r := _get(f"{base}/readyz")) is not None
                           and r.status_code == 200 and r, 90, interval=0.5,
                           message="the API to be ready")
        assert ready.json()["checks"]["workers"]["status"] == "ok"

        job = requests.post(f"{base}/jobs", headers=HEADERS, timeout=5, json={
            "job_type": "echo", "payload": {"message": "dev"}, "project": "p"}).json()
        done = wait_until(lambda: (j := requests.get(f"{base}/jobs/{job['id']}",
                                                     headers=HEADERS, timeout=5).json())
                          ["status"] == "completed" and j, 30, message="the job to complete")
        assert done["attempts"] == 1
        completed = 'service_jobs_total{job_type="echo",status="completed"} 1.0'
        wait_until(lambda: (r := _get(f"http://127.0.0.1:{job_metrics}/metrics")) is not None
                   and completed in r.text, 30, message="the worker's job metrics")
        web_metrics = _get(f"{base}/metrics")
        assert 'service_jobs_total{job_type="echo",status="queued"} 1.0' in web_metrics.text

        login = next(line.split(": ", 1)[1].strip()
                     for line in (tmp_path / "dev.log").read_text().splitlines()
                     if line.startswith("Flower login"))
        user, password = login.split(":", 1)
        flower_url = f"http://127.0.0.1:{flower}/api/workers"
        wait_until(lambda: _get(flower_url) is not None, 30, message="Flower")
        assert _get(flower_url).status_code == 401
        assert _get(flower_url, auth=(user, password)).status_code == 200
        flower_metrics = wait_until(  # without the login, as the README says; job tasks by type
            lambda: (r := _get(f"http://127.0.0.1:{flower}/metrics")) is not None
            and "taskplane.job.echo" in r.text and r, 30, message="Flower's task metrics")
        assert flower_metrics.status_code == 200
        assert (tmp_path / "var" / "redis" / "appendonlydir").is_dir()  # AOF on
        assert (tmp_path / "var" / "taskplane.db").is_file()  # migrated SQLite
    finally:
        os.killpg(dev.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        dev.wait(60)
        log.close()
    assert dev.returncode is not None
    deadline = time.monotonic() + 10
    while any(_listening(p) for p in (api, flower, broker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    output = (tmp_path / "dev.log").read_text()
    assert not [p for p in (api, flower, broker) if _listening(p)], json.dumps(output[-3000:])
    for name in ("redis", "web", "worker", "beat", "flower"):
        assert f"system | {name} stopped" in output, output[-3000:]
