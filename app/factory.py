"""Taskplane's web application factory: `create_app` builds one Flask app from its settings.

The app owns everything it runs with (`app.extensions["taskplane"]`, a `Runtime`): its
settings, catalog, database and Celery app. Building one binds nothing for the process,
so apps with different settings can live side by side in one process.
"""

from __future__ import annotations

from flask import Flask

from app.api import Api, register_blueprints
from app.api.audit.hook import record_audit
from app.api.context import assign_request_id, authenticate, document_auth, echo_request_id
from app.api.proxies import TrustedProxies
from app.api.rate_limits import init_rate_limits
from app.api.telemetry import bind_principal, end_request, finish_request, start_request
from app.auth_jwt import verifier_for
from app.extensions import EXTENSION, Runtime
from app.logs import configure_logging
from app.migrate import pending
from app.services.artifact_retention import stale_temp_files
from app.tracing import instrument_app
from config.settings import Settings

__all__ = ["create_app"]

# Swagger UI ships in app/static/swagger-ui/ (see its README): /docs works offline. Relative
# to /docs, so the page also finds it under a path prefix (SCRIPT_NAME).
SWAGGER_UI_URL = "static/swagger-ui/"


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
        "OPENAPI_SWAGGER_UI_URL": SWAGGER_UI_URL,
        "JSON_SORT_KEYS": False,
    }


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask app; `config` overrides settings by field name (tests use it)."""
    settings = Settings.from_env(**(config or {}))
    settings.check()
    if "jwt" in settings.auth_modes:
        verifier_for(settings)  # an unreadable key file stops the start, not a request
    own = Runtime(settings)
    current, head = pending(own.db.engine)
    if head is not None:
        own.close()
        raise RuntimeError(
            f"database at revision {current!r}, code expects {head!r}: run `taskplane migrate`"
        )
    configure_logging(settings.log_format, settings.log_level)
    app = Flask("app")  # the package: its root path and name, as before the factory moved
    app.config.from_mapping(_flask_config(settings))
    app.extensions[EXTENSION] = own
    app.extensions["celery"] = own.celery  # where Flask's Celery pattern looks for it
    with app.app_context():
        stale_temp_files()  # uploads that died with an earlier process of this store
    instrument_app(app, own.db.engine)  # first: its span covers every hook below
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
    app.teardown_appcontext(lambda _exc: own.db.release())
    return app
