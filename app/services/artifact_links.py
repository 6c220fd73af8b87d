"""Signed download links: time-limited, bound to one artifact version, no credentials needed.

Links are signed with `itsdangerous` under the keys of `TASKPLANE_SIGNING_KEYS`
(newest first; the newest signs, every listed key verifies, so keys can be rotated
without breaking live links), or under the secret key when none is set.
"""

from __future__ import annotations

import datetime as dt

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.auth import Principal
from app.db import utcnow
from app.errors import Forbidden, ValidationFailed
from app.extensions import runtime
from app.services import artifacts

SALT = "taskplane.artifact-download"


def serializer() -> URLSafeTimedSerializer:
    """The link serializer; itsdangerous wants keys oldest first and signs with the last."""
    settings = runtime.settings
    keys = list(reversed(settings.signing_keys)) or [settings.secret_key]
    return URLSafeTimedSerializer(keys, salt=SALT)


def sign(principal: Principal, artifact_id: str, version: int | None,
         seconds: int | None) -> tuple[str, dt.datetime]:
    """A token for the artifact's `version` (current when None) valid `seconds`; and its end."""
    settings = runtime.settings
    seconds = seconds or settings.download_url_seconds
    if seconds > settings.download_url_seconds_max:
        raise ValidationFailed("link lifetime too long", details={
            "expires_in": [f"at most {settings.download_url_seconds_max} seconds"]})
    artifact = artifacts.get(principal, artifact_id)
    found = artifacts.manifest(artifact, version)
    expires_at = utcnow() + dt.timedelta(seconds=seconds)
    token = serializer().dumps({"a": artifact.id, "t": artifact.tenant, "v": found.version,
                                "e": int(expires_at.timestamp())})
    return token, expires_at


def resolve(token: str):
    """(artifact, manifest) of a valid token; 403 when tampered or expired, 404 when gone."""
    limit = runtime.settings.download_url_seconds_max
    try:
        claims = serializer().loads(token, max_age=limit)
    except SignatureExpired as exc:
        raise Forbidden("download link expired") from exc
    except BadSignature as exc:
        raise Forbidden("invalid download link") from exc
    if claims["e"] < utcnow().timestamp():
        raise Forbidden("download link expired")
    artifact = artifacts.find(claims["t"], claims["a"])  # its signer was allowed to read it
    return artifact, artifacts.manifest(artifact, claims["v"])
