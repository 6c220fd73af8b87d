"""Per-request context: the request id, the principal and its permission, resolved once at the door.

`authenticate` runs before every view: it resolves the principal from the enabled auth
modes, confines the request's database session to the principal's tenant (the one
tenancy enforcement point, `app.services.tenancy`) and enforces the permission the view
declared with `app.auth.requires`.
"""

from __future__ import annotations

import hashlib
import uuid

import jwt
from flask import current_app, g, request

from app.api.proxies import TRUSTED_PEER
from app.auth import (
    Principal,
    declared_permission,
    principal_from_headers,
    reason_from,
    refused_header,
)
from app.auth_jwt import verifier_for
from app.errors import Forbidden, Unauthenticated
from app.extensions import db, runtime
from app.identity import REQUEST_ID, IdentityRefused
from app.services import api_keys, tenancy

PUBLIC_ENDPOINTS = {"ops.Healthz", "ops.Readyz", "ops.Livez", "ops.Metrics", "static",
                    "artifacts.SignedDownload"}  # a signed link is its own credential
PUBLIC_PREFIXES = ("api-docs.",)


def assign_request_id() -> None:
    """Take the caller's `X-Request-ID`, or make one when none is sent.

    One outside `app.identity.REQUEST_ID` is refused (400 `invalid_identity`, under an id
    made here), never replaced: the caller would look for its record under the id it sent.
    """
    g.request_id = uuid.uuid4().hex
    sent = request.headers.get("X-Request-ID", "").strip()
    if sent:
        try:
            g.request_id = REQUEST_ID.check(sent)
        except IdentityRefused as refused:
            raise refused_header("X-Request-ID", refused) from None


def echo_request_id(response):
    """Every response carries `X-Request-ID`."""
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _headers_believed(settings) -> bool:
    """Identity headers count only from a trusted proxy (from anyone without an allow-list)."""
    return not settings.trusted_proxies or request.environ.get(TRUSTED_PEER, False)


def resolve_principal() -> Principal:
    """The principal of this request from the enabled modes; `Unauthenticated` when none.

    A bearer token `tp_...` is an API key, any other bearer token a JWT; without a
    bearer token the identity headers are used (header mode).
    """
    settings = runtime.settings
    modes = settings.auth_modes
    reason = reason_from(request.headers)
    token = _bearer_token()
    if token is not None:
        if api_keys.is_api_key(token):
            if "apikey" in modes:
                return api_keys.principal_for(token, reason)
        elif "jwt" in modes:
            return verifier_for(settings).principal(token, reason)
        raise Unauthenticated("bearer credentials of a mode not enabled",
                              details={"auth_modes": list(modes)})
    if "headers" in modes and _headers_believed(settings):
        return principal_from_headers(request.headers, reason)
    raise Unauthenticated("missing credentials", details={"auth_modes": list(modes)})


def claimed_identity() -> str:
    """Who the request says it is, read from its credentials without verifying them.

    An API key's non-secret lookup prefix, a JWT's unverified issuer and subject, or the
    identity headers' tenant and actor; `none` without credentials. Hashed: a short,
    fixed-size name fit for a counter's key.
    """
    token = _bearer_token()
    if token is None:
        headers = request.headers
        claim = (f"headers:{headers.get('X-Tenant', '')}:{headers.get('X-Actor', '')}"
                 if "X-Actor" in headers or "X-Tenant" in headers else "none")
    elif api_keys.is_api_key(token):
        claim = "apikey:" + token[:api_keys.LOOKUP_LENGTH]
    else:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            claim = f"jwt:{claims.get('iss')}:{claims.get('sub')}"
        except (jwt.PyJWTError, AttributeError):  # AttributeError: claims not an object
            claim = "jwt:malformed"
    return hashlib.sha256(claim.encode()).hexdigest()[:24]


def is_public(endpoint: str | None) -> bool:
    """Whether `endpoint` is served without a principal (probes, docs, signed links)."""
    endpoint = endpoint or ""
    return endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES)


def authorize(principal: Principal) -> None:
    """Enforce the permission the view declared; a route that declares none is refused."""
    if request.method == "OPTIONS":
        return
    view = current_app.view_functions[request.endpoint]
    permission = declared_permission(view, request.method)
    if permission is None:
        raise Forbidden("no permission is declared for this route",
                        details={"endpoint": request.endpoint})
    principal.require(permission)


def authenticate() -> None:
    """Resolve the principal of every non-public request, scope it to its tenant, authorize it."""
    if request.url_rule is None or is_public(request.endpoint):
        return
    g.principal = resolve_principal()
    tenancy.scope_session(db.session, g.principal.tenant)
    authorize(g.principal)


SECURITY_SCHEMES = {
    "headers": {"X-Actor": {"type": "apiKey", "in": "header", "name": "X-Actor"},
                "X-Roles": {"type": "apiKey", "in": "header", "name": "X-Roles"},
                "X-Tenant": {"type": "apiKey", "in": "header", "name": "X-Tenant"}},
    "jwt": {"bearerJWT": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    "apikey": {"bearerApiKey": {"type": "http", "scheme": "bearer",
                                "description": "an API key: tp_..."}},
}


def document_auth(spec, modes) -> None:
    """Describe the enabled auth modes in the OpenAPI document (the Authorize button of /docs)."""
    for mode in modes:
        for name, scheme in SECURITY_SCHEMES[mode].items():
            spec.components.security_scheme(name, scheme)
    spec.options["security"] = [
        {name: [] for name in SECURITY_SCHEMES[mode]} for mode in modes]


def current_principal() -> Principal:
    """The principal of this request (set by `authenticate`)."""
    return g.principal


def principal_or_none() -> Principal | None:
    """The principal of this request, or None when it has none (public, or refused at the door)."""
    return g.get("principal")


def request_id() -> str:
    """This request's id (set by `assign_request_id`)."""
    return g.get("request_id", "")


def source_address() -> str | None:
    """The client's address: from `X-Forwarded-For` behind a trusted proxy, else the peer's."""
    return request.remote_addr
