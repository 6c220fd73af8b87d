"""Typed settings read from environment variables, with the defaults of the embedded stack."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "taskplane-development-secret-key-change-me"


def _var_dir(environ) -> Path:
    return Path(environ.get("TASKPLANE_VAR_DIR", ROOT / "var"))


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every knob Taskplane has; `Settings.from_env()` fills it from `TASKPLANE_*` variables."""

    env: str = "development"
    database_url: str = ""
    broker_url: str = "redis://127.0.0.1:6379/0"
    storage_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    auth_modes: tuple[str, ...] = ("headers",)
    allow_header_auth_in_production: bool = False
    command_types_file: str = ""
    job_lease_seconds: float = 30.0
    heartbeat_seconds: float = 1.0
    dispatch_grace_seconds: float = 10.0
    sweep_interval_seconds: float = 15.0
    max_content_length: int = 1024 * 1024
    max_log_line: int = 8192
    page_size_default: int = 50
    page_size_max: int = 500
    log_follow_poll_seconds: float = 0.25
    worker_ping_timeout: float = 1.0
    artifact_max_bytes: int = 5 * 1024**3
    artifact_quota_bytes: int = 0
    artifact_retention_days: float = 0.0
    artifact_sweep_interval_seconds: float = 300.0
    signing_keys: tuple[str, ...] = ()
    download_url_seconds: int = 3600
    download_url_seconds_max: int = 7 * 24 * 3600

    _ENV = {
        "env": ("TASKPLANE_ENV", str),
        "database_url": ("TASKPLANE_DATABASE_URL", str),
        "broker_url": ("TASKPLANE_BROKER_URL", str),
        "storage_url": ("TASKPLANE_STORAGE_URL", str),
        "secret_key": ("TASKPLANE_SECRET_KEY", str),
        "auth_modes": ("TASKPLANE_AUTH_MODES", _list),
        "allow_header_auth_in_production": ("TASKPLANE_ALLOW_HEADER_AUTH", _bool),
        "command_types_file": ("TASKPLANE_COMMAND_TYPES", str),
        "job_lease_seconds": ("TASKPLANE_JOB_LEASE_SECONDS", float),
        "heartbeat_seconds": ("TASKPLANE_HEARTBEAT_SECONDS", float),
        "dispatch_grace_seconds": ("TASKPLANE_DISPATCH_GRACE_SECONDS", float),
        "sweep_interval_seconds": ("TASKPLANE_SWEEP_INTERVAL_SECONDS", float),
        "max_content_length": ("TASKPLANE_MAX_CONTENT_LENGTH", int),
        "max_log_line": ("TASKPLANE_MAX_LOG_LINE", int),
        "worker_ping_timeout": ("TASKPLANE_WORKER_PING_TIMEOUT", float),
        "artifact_max_bytes": ("TASKPLANE_ARTIFACT_MAX_BYTES", int),
        "artifact_quota_bytes": ("TASKPLANE_ARTIFACT_QUOTA_BYTES", int),
        "artifact_retention_days": ("TASKPLANE_ARTIFACT_RETENTION_DAYS", float),
        "artifact_sweep_interval_seconds": ("TASKPLANE_ARTIFACT_SWEEP_INTERVAL_SECONDS", float),
        "signing_keys": ("TASKPLANE_SIGNING_KEYS", _list),
        "download_url_seconds": ("TASKPLANE_DOWNLOAD_URL_SECONDS", int),
        "download_url_seconds_max": ("TASKPLANE_DOWNLOAD_URL_SECONDS_MAX", int),
    }

    @classmethod
    def from_env(cls, environ=None, **overrides) -> Settings:
        """Build settings from `environ` (default `os.environ`), then apply `overrides`."""
        environ = os.environ if environ is None else environ
        values = {}
        for field, (name, parse) in cls._ENV.items():
            if environ.get(name, "") != "":
                values[field] = parse(environ[name])
        values.update(overrides)
        settings = cls(**values)
        defaults = {}
        if not settings.database_url:
            defaults["database_url"] = f"sqlite:///{_var_dir(environ) / 'taskplane.db'}"
        if not settings.storage_url:
            defaults["storage_url"] = f"file://{_var_dir(environ) / 'objects'}"
        return dataclasses.replace(settings, **defaults) if defaults else settings

    @property
    def production(self) -> bool:
        """True when running with the production profile (`TASKPLANE_ENV=production`)."""
        return self.env == "production"

    def check(self) -> None:
        """Refuse settings that are unsafe for the configured profile."""
        if not self.production:
            return
        if self.secret_key == DEV_SECRET_KEY:
            raise RuntimeError("TASKPLANE_SECRET_KEY must be set in production")
        if "headers" in self.auth_modes and not self.allow_header_auth_in_production:
            raise RuntimeError(
                "header auth in production needs TASKPLANE_ALLOW_HEADER_AUTH=true "
                "(only behind a trusted proxy)"
            )
