"""Per-request context: the request id and the principal, resolved once at the door."""

from __future__ import annotations

import re
import uuid

from flask import g, request

from app.auth import Principal, principal_from_headers
from app.errors import Unauthenticated
from app.extensions import runtime

PUBLIC_ENDPOINTS = {"ops.Healthz", "ops.Readyz", "ops.Livez", "static"}
PUBLIC_ENDPOINTS.add("artifacts.SignedDownload")  # a signed link is its own credential
PUBLIC_PREFIXES = ("api-docs.",)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def assign_request_id() -> None:
    """Take a well-formed `X-Request-ID` from the caller, or make one."""
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if REQUEST_ID.match(sent) else uuid.uuid4().hex


def echo_request_id(response):
    """Every response carries `X-Request-ID`."""
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response


def authenticate() -> None:
    """Resolve the principal of every non-public request; 401 when there is none."""
    endpoint = request.endpoint or ""
    public = endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES)
    if request.url_rule is None or public:
        return
    modes = runtime.settings.auth_modes
    if "headers" in modes:
        g.principal = principal_from_headers(request.headers)
        return
    raise Unauthenticated("no supported credentials", details={"auth_modes": list(modes)})


def current_principal() -> Principal:
    """The principal of this request (set by `authenticate`)."""
    return g.principal
