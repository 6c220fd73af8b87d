"""JWT bearer tokens: signature, `exp`, `iss`, `aud` and `sub` verified by PyJWT.

The accepted algorithms come from settings, never from the token. The token's header
only picks which configured key to try: an HMAC algorithm is checked against the
shared secret alone, an asymmetric one against the public key (a PEM file or a JWKS
with `kid` selection), so a token "signed" HS256 with the public key as secret fails.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jwt

from app.auth import Principal
from app.errors import Unauthenticated
from app.identity import IdentityRefused, parse_roles
from config.settings import HMAC_ALGORITHMS, Settings

REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
CLAIMS = {"actor": "sub", "tenant": "tenant", "roles": "roles", "role": "roles"}


class JwksFile:
    """A JWKS kept in a local file, read again whenever the file changes (key rotation)."""

    def __init__(self, path: str):
        self.path = Path(path)
        self._stamp = None
        self._keys: jwt.PyJWKSet | None = None

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        """The key with this `kid`; `PyJWKClientError` when there is none."""
        try:
            stat = self.path.stat()
            if (stat.st_mtime_ns, stat.st_size) != self._stamp:
                self._keys = jwt.PyJWKSet.from_json(self.path.read_text())
                self._stamp = (stat.st_mtime_ns, stat.st_size)
        except (OSError, ValueError, jwt.PyJWTError) as exc:  # missing, unreadable, not a JWKS
            raise jwt.PyJWKClientError(f"cannot read the JWKS at {self.path}: {exc}") from exc
        for key in self._keys.keys:
            if key.key_id == kid:
                return key
        raise jwt.PyJWKClientError(f"no key with kid {kid!r}")


def jwks_source(location: str, cache_seconds: float):
    """Keys by `kid` from a JWKS URL (PyJWT's cached client) or a local file."""
    if location.startswith(("https://", "http://")):
        return jwt.PyJWKClient(location, cache_jwk_set=True, lifespan=cache_seconds, timeout=5)
    return JwksFile(location)


class JwtVerifier:
    """Verifies bearer JWTs against the keys and claims fixed by settings."""

    def __init__(self, settings: Settings):
        self.hmac_algorithms = [a for a in settings.jwt_algorithms if a in HMAC_ALGORITHMS]
        self.key_algorithms = [a for a in settings.jwt_algorithms if a not in HMAC_ALGORITHMS]
        self.secret = settings.jwt_secret
        self.public_key = (Path(settings.jwt_public_key).read_text()
                           if settings.jwt_public_key else None)
        self.jwks = (jwks_source(settings.jwt_jwks, settings.jwt_jwks_cache_seconds)
                     if settings.jwt_jwks else None)
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.leeway = settings.jwt_leeway

    def _key(self, header: dict) -> tuple[object, list[str]]:
        """The configured key for this token and the algorithms it may be used with."""
        alg = header.get("alg")
        if alg in self.hmac_algorithms:
            return self.secret, self.hmac_algorithms
        if alg not in self.key_algorithms:
            raise Unauthenticated("token algorithm not accepted", details={"alg": str(alg)})
        kid = header.get("kid")
        if self.jwks is not None and (kid is not None or self.public_key is None):
            if kid is None:
                raise Unauthenticated("token has no key id (kid)")
            try:
                return self.jwks.get_signing_key(str(kid)).key, self.key_algorithms
            except jwt.PyJWKClientError as exc:
                raise Unauthenticated("token key not found", details={"kid": str(kid)}) from exc
        return self.public_key, self.key_algorithms

    def principal(self, token: str, reason: str) -> Principal:
        """The principal a valid token names; `Unauthenticated` for any flaw."""
        try:
            key, algorithms = self._key(jwt.get_unverified_header(token))
            claims = jwt.decode(token, key, algorithms=algorithms, audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway,
                                options={"require": REQUIRED_CLAIMS})
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid token", details={"reason": str(exc)}) from exc
        try:
            return Principal(actor=claims["sub"], roles=parse_roles(claims.get("roles") or ()),
                             tenant=claims.get("tenant"), reason=reason)
        except IdentityRefused as refused:
            claim = CLAIMS.get(refused.field, refused.field)
            raise Unauthenticated(f"token claim {claim!r} refused: {refused.problem}",
                                  details={"claim": claim, "problem": refused.problem}) from None


@functools.lru_cache(maxsize=8)
def verifier_for(settings: Settings) -> JwtVerifier:
    """One verifier (and one JWKS cache) per settings object."""
    return JwtVerifier(settings)
