"""API keys: `tp_...` bearer secrets shown once, stored as SHA-256 behind a lookup prefix.

A key is looked up and checked on every request (no cache), so a revoked or expired
key stops working at once. Several live keys per actor allow rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select, update

from app.auth import ROLE_PERMISSIONS, Principal
from app.db import utcnow
from app.errors import NotFound, Unauthenticated, ValidationFailed
from app.extensions import db
from app.identity import IdentityRefused, parse_roles
from app.models import ApiKey, new_id
from app.services.pagination import Page, narrow, paginate
from app.services.tenancy import UNSCOPED

TOKEN_PREFIX = "tp_"
LOOKUP_LENGTH = 12  # "tp_" and 9 random characters: the indexed, non-secret part


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_api_key(token: str) -> bool:
    """Whether a bearer token has the form of an API key (`tp_...`)."""
    return token.startswith(TOKEN_PREFIX)


def create(principal: Principal, *, name: str, actor: str | None, roles: list[str],
           expires_at=None) -> tuple[ApiKey, str]:
    """Store a new key of the caller's tenant; returns (row, plaintext token shown once)."""
    parsed = parse_roles(roles)
    unknown = sorted(set(parsed) - set(ROLE_PERMISSIONS))
    if unknown or not parsed:
        raise ValidationFailed("unknown or no roles",
                               details={"roles": [f"one or more of {sorted(ROLE_PERMISSIONS)}"]})
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed("expires_at is in the past",
                               details={"expires_at": ["must be in the future"]})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(id=new_id(), prefix=token[:LOOKUP_LENGTH], key_hash=_digest(token),
                 name=name, actor=actor or principal.actor, roles=list(parsed),
                 tenant=principal.tenant, created_by=principal.actor, created_at=utcnow(),
                 expires_at=expires_at)
    db.session.add(key)
    db.session.commit()
    return key, token


def list_keys(filters: dict, cursor: str | None, limit: int) -> Page:
    """The tenant's keys (the session is tenant-scoped), newest first."""
    stmt = narrow(select(ApiKey), ApiKey, filters, ("actor",))
    if not filters.get("include_revoked"):
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return paginate(db.session, stmt, (ApiKey.created_at, ApiKey.id), cursor, limit)


def revoke(key_id: str) -> None:
    """Revoke one of the tenant's keys; it fails its very next request. Idempotent."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("api key not found", details={"id": key_id})
    db.session.execute(update(ApiKey).where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
    db.session.commit()


def principal_for(token: str, reason: str) -> Principal:
    """The principal a live key is bound to; `Unauthenticated` for any other token."""
    digest = _digest(token)
    now = utcnow()
    # Columns, not rows: nothing of another tenant is left in the session's identity map.
    lookup = select(ApiKey.key_hash, ApiKey.revoked_at, ApiKey.expires_at, ApiKey.actor,
                    ApiKey.roles, ApiKey.tenant).where(ApiKey.prefix == token[:LOOKUP_LENGTH])
    for key in db.session.execute(lookup.execution_options(**UNSCOPED)):
        if not hmac.compare_digest(key.key_hash, digest):
            continue
        if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
            break
        try:
            return Principal(actor=key.actor, roles=tuple(key.roles), tenant=key.tenant,
                             reason=reason)
        except IdentityRefused as refused:  # a key stored before the bounds, never altered
            raise Unauthenticated("API key bound to an identity outside the bounds",
                                  details={"field": refused.field,
                                           "problem": refused.problem}) from None
    raise Unauthenticated("invalid, revoked or expired API key")
