"""Broker-agnostic start: Redis-only defaults are explicit, and a missing one is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import celeryconfig
from config.catalog import build_catalog
from config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
AMQP = "amqp://guest:secret@rabbit.example:5672//"


def test_redis_broker_serves_as_taskplanes_redis_too():
    settings = Settings.from_env({"TASKPLANE_BROKER_URL": "redis://example:1/2"})
    assert settings.redis_url == "redis://example:1/2"
    settings.check()


def test_other_broker_without_redis_url_is_refused_naming_the_variable():
    settings = Settings.from_env({"TASKPLANE_BROKER_URL": AMQP})
    with pytest.raises(RuntimeError, match="TASKPLANE_REDIS_URL must be set") as refused:
        settings.check()
    assert "secret" not in str(refused.value)  # the broker's credentials are not printed
    Settings.from_env({"TASKPLANE_BROKER_URL": AMQP,
                       "TASKPLANE_REDIS_URL": "redis://cache:6379/0"}).check()


def test_redis_transport_options_only_on_redis_and_priority_queues_elsewhere():
    catalog = build_catalog("")
    on_redis = celeryconfig.build(Settings(broker_url="redis://x:1/0"), catalog)
    on_amqp = celeryconfig.build(Settings(broker_url=AMQP, redis_url="redis://x:1/0"), catalog)
    assert on_redis["broker_transport_options"]["visibility_timeout"] > 0
    assert {q.max_priority for q in on_redis["task_queues"]} == {None}
    assert on_amqp["broker_transport_options"] == {"confirm_publish": True}
    assert "result_backend_transport_options" not in on_amqp
    assert {q.max_priority for q in on_amqp["task_queues"]} == {celeryconfig.MAX_PRIORITY}


@pytest.mark.parametrize("argv", [
    [sys.executable, "-m", "celery", "-A", "tasks", "worker"],
    [sys.executable, "-m", "celery", "-A", "tasks", "beat"],
    [str(Path(sys.executable).parent / "gunicorn"), "--config", "config/gunicorn.py",
     "app:create_app()"],
], ids=["worker", "beat", "web"])
def test_each_process_states_a_missing_setting_in_one_line(argv, tmp_path):
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("TASKPLANE_")}
    env.update(TASKPLANE_BROKER_URL=AMQP, TASKPLANE_VAR_DIR=str(tmp_path),
               PORT="0")
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stdout + done.stderr == (
        "taskplane: TASKPLANE_REDIS_URL must be set when the broker is not Redis "
        "(TASKPLANE_BROKER_URL is amqp://…): rate limits keep their counters in Redis\n")
