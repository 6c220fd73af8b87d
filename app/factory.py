"""Taskplane's web application factory: `create_app` builds one Flask app from its settings."""

from __future__ import annotations

from flask import Flask

from app.api import Api, register_blueprints
from app.api.audit.hook import record_audit
from app.api.context import assign_request_id, authenticate, document_auth, echo_request_id
from app.api.proxies import TrustedProxies
from app.api.rate_limits import init_rate_limits
from app.api.telemetry import bind_principal, end_request, finish_request, start_request
from app.auth_jwt import verifier_for
from app.extensions import celery_app, configure, db
from app.logs import configure_logging
from app.migrate import pending
from app.services.artifact_retention import stale_temp_files
from app.tracing import instrument_app
from config.settings import Settings

__all__ = ["create_app"]


def _flask_config(settings: Settings) -> dict:
    return {
        "SECRET_KEY": settings.secret_key,
        "MAX_CONTENT_LENGTH": settings.max_content_length,
        "API_TITLE": "Taskplane",
        "API_VERSION": "1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        "JSON_SORT_KEYS": False,
    }


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask app; `config` overrides settings by field name (tests use it)."""
    settings = Settings.from_env(**(config or {}))
    settings.check()
    if "jwt" in settings.auth_modes:
        verifier_for(settings)  # an unreadable key file stops the start, not a request
    configure(settings)
    current, head = pending(db.engine)
    if head is not None:
        raise RuntimeError(
            f"database at revision {current!r}, code expects {head!r}: run `taskplane migrate`"
        )
    stale_temp_files()  # uploads that died with an earlier process of this store
    configure_logging(settings.log_format, settings.log_level)
    app = Flask("app")  # the package: its root path and name, as before the factory moved
    app.config.from_mapping(_flask_config(settings))
    instrument_app(app, db.engine)  # first: its span covers every hook below
    app.extensions["celery"] = celery_app
    if settings.trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_networks)
    api = Api(app)
    register_blueprints(api)
    document_auth(api.spec, settings.auth_modes)
    app.after_request(finish_request)  # registered first: runs after every other hook
    app.before_request(assign_request_id)
    app.before_request(start_request)
    app.before_request(authenticate)
    app.before_request(bind_principal)
    app.teardown_request(end_request)
    app.after_request(echo_request_id)
    init_rate_limits(app, settings)  # after `authenticate`: limits are per principal
    app.after_request(record_audit)
    app.teardown_appcontext(lambda _exc: db.release())
    return app
