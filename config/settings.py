"""Typed settings read from environment variables, with the defaults of the embedded stack."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "taskplane-development-secret-key-change-me"
AUTH_MODES = ("headers", "jwt", "apikey")
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                  "ES512", "EdDSA")
MIN_JWT_SECRET_BYTES = 32
LOG_FORMATS = ("json", "text")
REDIS_SCHEMES = ("redis", "rediss")


def broker_scheme(url: str) -> str:
    """The scheme of a broker URL (`redis`, `amqp`, …), never its credentials."""
    return url.partition("://")[0].lower()


def var_dir(environ=None) -> Path:
    """Where the embedded stack keeps its files (`TASKPLANE_VAR_DIR`, default `./var`)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("TASKPLANE_VAR_DIR", ROOT / "var"))


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _networks(cidrs) -> tuple:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


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
    trusted_proxies: tuple[str, ...] = ()
    jwt_algorithms: tuple[str, ...] = ("RS256",)
    jwt_secret: str = ""
    jwt_public_key: str = ""
    jwt_jwks: str = ""
    jwt_jwks_cache_seconds: float = 300.0
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway: float = 10.0
    command_types_file: str = ""
    job_lease_seconds: float = 30.0
    heartbeat_seconds: float = 1.0
    dispatch_grace_seconds: float = 10.0
    sweep_interval_seconds: float = 15.0
    outcome_retry_seconds: float = 300.0
    job_buffer_lines: int = 10000
    sqlite_busy_timeout_seconds: float = 30.0
    max_content_length: int = 1024 * 1024
    max_log_line: int = 8192
    page_size_default: int = 50
    page_size_max: int = 500
    log_follow_poll_seconds: float = 0.25
    log_follow_poll_max_seconds: float = 1.0
    stream_slots: int = 64
    stream_max_seconds: float = 300.0
    stream_keepalive_seconds: float = 5.0
    transfer_slots: int = 32
    transfer_stall_seconds: float = 30.0
    worker_ping_timeout: float = 1.0
    broker_redelivery_seconds: int = 0
    artifact_max_bytes: int = 5 * 1024**3
    artifact_quota_bytes: int = 0
    artifact_retention_days: float = 0.0
    artifact_sweep_interval_seconds: float = 300.0
    storage_min_free_bytes: int = 64 * 1024**2
    storage_temp_max_age_seconds: float = 3600.0
    artifact_verify_before_send_bytes: int = 64 * 1024**2
    artifact_scrub_interval_seconds: float = 3600.0
    artifact_scrub_objects: int = 100
    artifact_scrub_bytes: int = 1024**3
    signing_keys: tuple[str, ...] = ()
    download_url_seconds: int = 3600
    download_url_seconds_max: int = 7 * 24 * 3600
    rate_limits_enabled: bool = True
    redis_url: str = ""
    rate_limit_submit: str = "60/minute"
    rate_limit_write: str = "120/minute"
    rate_limit_read: str = "600/minute"
    rate_limit_auth_failures: str = "60/minute"
    log_format: str = "json"
    log_level: str = "INFO"
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1")
    metrics_token: str = ""
    worker_metrics_port: int = 0
    worker_metrics_host: str = "127.0.0.1"
    workers_online_cache_seconds: float = 5.0
    readiness_interval_seconds: float = 2.0
    readiness_max_age_seconds: float = 15.0
    slow_request_ms: float = 1000.0
    slow_requests_kept: int = 1000
    slow_requests_ready_max: int = 0
    quota_reconcile_seconds: float = 300.0
    task_sent_event: bool = False

    _ENV = {
        "env": ("TASKPLANE_ENV", str),
        "database_url": ("TASKPLANE_DATABASE_URL", str),
        "broker_url": ("TASKPLANE_BROKER_URL", str),
        "storage_url": ("TASKPLANE_STORAGE_URL", str),
        "secret_key": ("TASKPLANE_SECRET_KEY", str),
        "auth_modes": ("TASKPLANE_AUTH_MODES", _list),
        "trusted_proxies": ("TASKPLANE_TRUSTED_PROXIES", _list),
        "jwt_algorithms": ("TASKPLANE_JWT_ALGORITHMS", _list),
        "jwt_secret": ("TASKPLANE_JWT_SECRET", str),
        "jwt_public_key": ("TASKPLANE_JWT_PUBLIC_KEY", str),
        "jwt_jwks": ("TASKPLANE_JWT_JWKS", str),
        "jwt_jwks_cache_seconds": ("TASKPLANE_JWT_JWKS_CACHE_SECONDS", float),
        "jwt_issuer": ("TASKPLANE_JWT_ISSUER", str),
        "jwt_audience": ("TASKPLANE_JWT_AUDIENCE", str),
        "jwt_leeway": ("TASKPLANE_JWT_LEEWAY", float),
        "command_types_file": ("TASKPLANE_COMMAND_TYPES", str),
        "job_lease_seconds": ("TASKPLANE_JOB_LEASE_SECONDS", float),
        "heartbeat_seconds": ("TASKPLANE_HEARTBEAT_SECONDS", float),
        "dispatch_grace_seconds": ("TASKPLANE_DISPATCH_GRACE_SECONDS", float),
        "sweep_interval_seconds": ("TASKPLANE_SWEEP_INTERVAL_SECONDS", float),
        "outcome_retry_seconds": ("TASKPLANE_OUTCOME_RETRY_SECONDS", float),
        "job_buffer_lines": ("TASKPLANE_JOB_BUFFER_LINES", int),
        "sqlite_busy_timeout_seconds": ("TASKPLANE_SQLITE_BUSY_TIMEOUT_SECONDS", float),
        "max_content_length": ("TASKPLANE_MAX_CONTENT_LENGTH", int),
        "max_log_line": ("TASKPLANE_MAX_LOG_LINE", int),
        "worker_ping_timeout": ("TASKPLANE_WORKER_PING_TIMEOUT", float),
        "broker_redelivery_seconds": ("TASKPLANE_BROKER_REDELIVERY_SECONDS", int),
        "log_follow_poll_seconds": ("TASKPLANE_LOG_FOLLOW_POLL_SECONDS", float),
        "log_follow_poll_max_seconds": ("TASKPLANE_LOG_FOLLOW_POLL_MAX_SECONDS", float),
        "stream_slots": ("TASKPLANE_STREAM_SLOTS", int),
        "stream_max_seconds": ("TASKPLANE_STREAM_MAX_SECONDS", float),
        "stream_keepalive_seconds": ("TASKPLANE_STREAM_KEEPALIVE_SECONDS", float),
        "transfer_slots": ("TASKPLANE_TRANSFER_SLOTS", int),
        "transfer_stall_seconds": ("TASKPLANE_TRANSFER_STALL_SECONDS", float),
        "artifact_max_bytes": ("TASKPLANE_ARTIFACT_MAX_BYTES", int),
        "artifact_quota_bytes": ("TASKPLANE_ARTIFACT_QUOTA_BYTES", int),
        "artifact_retention_days": ("TASKPLANE_ARTIFACT_RETENTION_DAYS", float),
        "artifact_sweep_interval_seconds": ("TASKPLANE_ARTIFACT_SWEEP_INTERVAL_SECONDS", float),
        "storage_min_free_bytes": ("TASKPLANE_STORAGE_MIN_FREE_BYTES", int),
        "storage_temp_max_age_seconds": ("TASKPLANE_STORAGE_TEMP_MAX_AGE_SECONDS", float),
        "artifact_verify_before_send_bytes": ("TASKPLANE_ARTIFACT_VERIFY_BEFORE_SEND_BYTES",
                                              int),
        "artifact_scrub_interval_seconds": ("TASKPLANE_ARTIFACT_SCRUB_INTERVAL_SECONDS", float),
        "artifact_scrub_objects": ("TASKPLANE_ARTIFACT_SCRUB_OBJECTS", int),
        "artifact_scrub_bytes": ("TASKPLANE_ARTIFACT_SCRUB_BYTES", int),
        "signing_keys": ("TASKPLANE_SIGNING_KEYS", _list),
        "download_url_seconds": ("TASKPLANE_DOWNLOAD_URL_SECONDS", int),
        "download_url_seconds_max": ("TASKPLANE_DOWNLOAD_URL_SECONDS_MAX", int),
        "rate_limits_enabled": ("TASKPLANE_RATE_LIMITS_ENABLED", _bool),
        "redis_url": ("TASKPLANE_REDIS_URL", str),
        "rate_limit_submit": ("TASKPLANE_RATE_LIMIT_SUBMIT", str),
        "rate_limit_write": ("TASKPLANE_RATE_LIMIT_WRITE", str),
        "rate_limit_read": ("TASKPLANE_RATE_LIMIT_READ", str),
        "rate_limit_auth_failures": ("TASKPLANE_RATE_LIMIT_AUTH_FAILURES", str),
        "log_format": ("TASKPLANE_LOG_FORMAT", str),
        "log_level": ("TASKPLANE_LOG_LEVEL", str),
        "metrics_allow": ("TASKPLANE_METRICS_ALLOW", _list),
        "metrics_token": ("TASKPLANE_METRICS_TOKEN", str),
        "worker_metrics_port": ("TASKPLANE_WORKER_METRICS_PORT", int),
        "worker_metrics_host": ("TASKPLANE_WORKER_METRICS_HOST", str),
        "workers_online_cache_seconds": ("TASKPLANE_WORKERS_ONLINE_CACHE_SECONDS", float),
        "readiness_interval_seconds": ("TASKPLANE_READINESS_INTERVAL_SECONDS", float),
        "readiness_max_age_seconds": ("TASKPLANE_READINESS_MAX_AGE_SECONDS", float),
        "slow_request_ms": ("TASKPLANE_SLOW_REQUEST_MS", float),
        "slow_requests_kept": ("TASKPLANE_SLOW_REQUESTS_KEPT", int),
        "slow_requests_ready_max": ("TASKPLANE_SLOW_REQUESTS_READY_MAX", int),
        "quota_reconcile_seconds": ("TASKPLANE_QUOTA_RECONCILE_SECONDS", float),
        "task_sent_event": ("TASKPLANE_TASK_SENT_EVENT", _bool),
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
            defaults["database_url"] = f"sqlite:///{var_dir(environ) / 'taskplane.db'}"
        if not settings.storage_url:
            defaults["storage_url"] = f"file://{var_dir(environ) / 'objects'}"
        if not settings.redis_url and settings.broker_is_redis:
            defaults["redis_url"] = settings.broker_url
        return dataclasses.replace(settings, **defaults) if defaults else settings

    @property
    def production(self) -> bool:
        """True when running with the production profile (`TASKPLANE_ENV=production`)."""
        return self.env == "production"

    @property
    def broker_is_redis(self) -> bool:
        """True when the Celery broker is Redis (`redis://`, `rediss://`, `redis+socket://`)."""
        return broker_scheme(self.broker_url).startswith(REDIS_SCHEMES)

    @property
    def trusted_networks(self) -> tuple:
        """`trusted_proxies` as `ipaddress` networks (a bare address is a /32 or /128)."""
        return _networks(self.trusted_proxies)

    @property
    def metrics_networks(self) -> tuple:
        """`metrics_allow` as `ipaddress` networks: the peers `/metrics` answers."""
        return _networks(self.metrics_allow)

    def check(self) -> None:
        """Refuse settings that are unsafe for the configured profile, or inconsistent."""
        if not self.redis_url and not self.broker_is_redis:
            raise RuntimeError(
                f"TASKPLANE_REDIS_URL must be set when the broker is not Redis "
                f"(TASKPLANE_BROKER_URL is {broker_scheme(self.broker_url)}://…): "
                f"rate limits keep their counters in Redis")
        if self.production and self.secret_key == DEV_SECRET_KEY:
            raise RuntimeError("TASKPLANE_SECRET_KEY must be set in production")
        unknown = sorted(set(self.auth_modes) - set(AUTH_MODES))
        if unknown or not self.auth_modes:
            raise RuntimeError(f"TASKPLANE_AUTH_MODES: unknown or no modes {unknown}; "
                               f"choose from {list(AUTH_MODES)}")
        try:
            _ = self.trusted_networks
        except ValueError as exc:
            raise RuntimeError(f"TASKPLANE_TRUSTED_PROXIES: {exc}") from exc
        try:
            _ = self.metrics_networks
        except ValueError as exc:
            raise RuntimeError(f"TASKPLANE_METRICS_ALLOW: {exc}") from exc
        if self.log_format not in LOG_FORMATS:
            raise RuntimeError(f"TASKPLANE_LOG_FORMAT: one of {list(LOG_FORMATS)}")
        if self.production and "headers" in self.auth_modes and not self.trusted_proxies:
            raise RuntimeError(
                "header auth in production needs TASKPLANE_TRUSTED_PROXIES "
                "(the addresses of the proxies that set the identity headers)"
            )
        if "jwt" in self.auth_modes:
            self._check_jwt()
        if self.job_buffer_lines < 1 or self.sqlite_busy_timeout_seconds <= 0:
            raise RuntimeError("TASKPLANE_JOB_BUFFER_LINES must be at least 1, and "
                               "TASKPLANE_SQLITE_BUSY_TIMEOUT_SECONDS positive")
        if self.stream_slots < 1 or self.stream_max_seconds <= 0 or (
                self.stream_keepalive_seconds <= 0):
            raise RuntimeError("TASKPLANE_STREAM_SLOTS must be at least 1, and "
                               "TASKPLANE_STREAM_MAX_SECONDS and _KEEPALIVE_SECONDS positive")
        if self.transfer_slots < 1 or self.transfer_stall_seconds <= 0:
            raise RuntimeError("TASKPLANE_TRANSFER_SLOTS must be at least 1, and "
                               "TASKPLANE_TRANSFER_STALL_SECONDS positive")

    def _check_jwt(self) -> None:
        algorithms = set(self.jwt_algorithms)
        unsupported = sorted(algorithms - set(HMAC_ALGORITHMS) - set(KEY_ALGORITHMS))
        if unsupported or not algorithms:
            raise RuntimeError(f"TASKPLANE_JWT_ALGORITHMS: unsupported or none {unsupported}")
        if not self.jwt_issuer or not self.jwt_audience:
            raise RuntimeError("jwt auth needs TASKPLANE_JWT_ISSUER and TASKPLANE_JWT_AUDIENCE")
        if algorithms & set(HMAC_ALGORITHMS) and (
                len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES):
            raise RuntimeError(
                f"TASKPLANE_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes for HS*")
        if algorithms & set(KEY_ALGORITHMS) and not (self.jwt_public_key or self.jwt_jwks):
            raise RuntimeError(
                "asymmetric JWT algorithms need TASKPLANE_JWT_PUBLIC_KEY or TASKPLANE_JWT_JWKS")
