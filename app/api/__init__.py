"""The HTTP front door: flask-smorest `Api` and `Blueprint` subclassed once, one error envelope."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from flask import current_app, g, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.routing import UnicodeConverter

from app.api.schemas import STRING_MAX, ErrorEnvelopeSchema, bound_schema
from app.errors import RETRY_AFTER_SECONDS, STORE_OUTAGES, ServiceError, ServiceUnavailable

HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_failed",
    428: "precondition_required",
    429: "rate_limited",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
    507: "insufficient_storage",
}


class PathSegment(UnicodeConverter):
    """Every `<name>` of a route: 1 to `STRING_MAX` characters, no slash (longer: 404)."""

    def __init__(self, url_map, minlength: int = 1, maxlength: int = STRING_MAX,
                 length: int | None = None):
        super().__init__(url_map, minlength, maxlength, length)


def error_response(status: int, code: str, message: str, details=None, headers=None):
    """The shared error body `{"error": {code, message, details, request_id}}`."""
    body = {"error": {"code": code, "message": message, "details": details or {},
                      "request_id": g.get("request_id")}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_details(messages: dict) -> dict:
    """webargs groups field errors by location; one location of field errors is flattened.

    A location whose errors are not per field (`{"json": ["Invalid JSON body."]}`) stays
    as it is, so `details` is always an object.
    """
    if isinstance(messages, dict) and len(messages) == 1:
        only = next(iter(messages.values()))
        if isinstance(only, dict):
            return only
    return messages


class Api(flask_smorest.Api):
    """Taskplane's Api: every error, ours or Werkzeug's, leaves in one envelope."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def init_app(self, app, *args, **kwargs):
        """Bind to `app`, whose routes' untyped parts are bounded `PathSegment`s."""
        app.url_map.converters["default"] = PathSegment
        super().init_app(app, *args, **kwargs)

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(ServiceError, self.handle_service_error)
        for outage in STORE_OUTAGES:
            self._app.register_error_handler(outage, self.handle_store_outage)

    def handle_http_exception(self, error: HTTPException):
        """Werkzeug and webargs errors, in the shared envelope."""
        data = getattr(error, "data", None) or {}
        code = HTTP_ERROR_CODES.get(error.code, "error")
        details = data.get("errors") or _validation_details(data.get("messages", {}))
        message = data.get("message") or error.description or error.name
        if error.code == 422:
            message = "request validation failed"
        if error.code >= 500:
            message = "internal error"  # Flask has logged the exception; never leak it
        # Werkzeug's own headers (405 `Allow`, 416 `Content-Range` …), not its HTML type.
        headers = {name: value for name, value in error.get_headers()
                   if name.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return error_response(error.code, code, message, details, headers)

    def handle_service_error(self, error: ServiceError):
        """Typed service errors carry their own status and code."""
        if error.denial:
            g.denial = True  # for the audit hook
        return error_response(error.status, error.code, error.message, error.details,
                              error.headers)


    def handle_store_outage(self, error: Exception):
        """The database or the broker does not answer: 503 with Retry-After, not a 500."""
        current_app.logger.warning("store outage: %s: %s", type(error).__name__, error)
        return self.handle_service_error(ServiceUnavailable(
            "a backing store is unavailable; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)}))


class Blueprint(flask_smorest.Blueprint):
    """Taskplane's Blueprint: unknown fields are refused in every location, query included."""

    def arguments(self, schema, *, unknown=ma.RAISE, **kwargs):
        """`Blueprint.arguments`, refusing unknown fields (a mistyped filter is a 422).

        A schema class is instantiated once here, not by webargs on every request, and
        every integer, string and list in it is bounded (`bound_schema`).
        """
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(bound_schema(schema), unknown=unknown, **kwargs)

    def page(self, args_schema, page_schema):
        """Declare a list view: its query parsed by `args_schema` (filters, `limit`, `cursor`),
        its answer (200) the `Page` it returns (from `fetch_page`) dumped by `page_schema`."""
        parse = self.arguments(args_schema, location="query")
        answer = self.response(200, page_schema)
        return lambda view: parse(answer(view))


def register_blueprints(api: Api) -> None:
    """Register every resource blueprint, from one list."""
    from app.api.api_keys.resources import blp as api_keys
    from app.api.artifacts.jobs import blp as job_artifacts
    from app.api.artifacts.resources import blp as artifacts
    from app.api.audit.resources import blp as audit
    from app.api.events.resources import blp as events
    from app.api.job_types.resources import blp as job_types
    from app.api.jobs.resources import blp as jobs
    from app.api.ops.resources import blp as ops
    from app.api.quotas.resources import blp as quotas

    for blueprint in (jobs, job_types, events, audit, quotas, api_keys, artifacts, job_artifacts,
                      ops):
        api.register_blueprint(blueprint)
