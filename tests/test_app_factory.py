"""Startup refuses unsafe settings and an un-migrated database; gunicorn sizes its threads."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from app.migrate import upgrade
from config.settings import DEV_SECRET_KEY, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_refuses_to_start_on_an_unmigrated_database(tmp_path, app_factory):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    try:
        with pytest.raises(RuntimeError, match="taskplane migrate"):
            app_factory(database_url=url)
        upgrade(url)
        assert app_factory(database_url=url).name == "app"
    finally:
        app_factory()  # back to the session's database for the tests that follow


def test_production_refuses_the_development_secret_key():
    settings = Settings(env="production", secret_key=DEV_SECRET_KEY, auth_modes=("jwt",))
    with pytest.raises(RuntimeError, match="TASKPLANE_SECRET_KEY"):
        settings.check()


def test_production_refuses_header_auth_without_trusted_proxies():
    settings = Settings(env="production", secret_key="s" * 40, auth_modes=("headers",))
    with pytest.raises(RuntimeError, match="TASKPLANE_TRUSTED_PROXIES"):
        settings.check()
    Settings(env="production", secret_key="s" * 40, auth_modes=("headers",),
             trusted_proxies=("10.0.0.0/8",)).check()


def test_settings_come_from_the_environment_with_typed_values():
    settings = Settings.from_env({"TASKPLANE_BROKER_URL": "redis://example:1/2",
                                  "TASKPLANE_AUTH_MODES": "headers, jwt",
                                  "TASKPLANE_JOB_LEASE_SECONDS": "12.5",
                                  "TASKPLANE_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
                                  "TASKPLANE_VAR_DIR": "/srv/tp"})
    assert settings.broker_url == "redis://example:1/2"
    assert settings.auth_modes == ("headers", "jwt")
    assert settings.job_lease_seconds == 12.5
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert settings.database_url == "sqlite:////srv/tp/taskplane.db"
    assert settings.storage_url == "file:///srv/tp/objects"


def test_streams_need_a_slot_a_lifetime_and_a_keepalive():
    for bad in ({"stream_slots": 0}, {"stream_max_seconds": 0},
                {"stream_keepalive_seconds": 0}):
        with pytest.raises(RuntimeError, match="TASKPLANE_STREAM"):
            Settings(**bad).check()
    settings = Settings.from_env({"TASKPLANE_STREAM_SLOTS": "10",
                                  "TASKPLANE_STREAM_MAX_SECONDS": "60"})
    assert (settings.stream_slots, settings.stream_max_seconds) == (10, 60.0)


def test_web_threads_are_the_stream_and_transfer_slots_plus_threads_for_other_requests(
        monkeypatch):
    monkeypatch.setenv("TASKPLANE_STREAM_SLOTS", "10")
    monkeypatch.setenv("TASKPLANE_TRANSFER_SLOTS", "7")
    monkeypatch.setenv("WEB_REQUEST_THREADS", "4")
    config = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    from gunicorn.util import load_class
    from gunicorn.workers.gthread import ThreadWorker

    from app.web_workers import EnvelopeErrors

    worker_class = load_class(config["worker_class"])
    assert issubclass(worker_class, ThreadWorker)  # gthread, its own errors in the envelope
    assert issubclass(worker_class, EnvelopeErrors)
    assert config["threads"] == 10 + 7 + 4
