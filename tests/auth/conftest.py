"""Credentials for the auth tests: RSA/EC key pairs, a JWKS file, token and API-key makers."""

from __future__ import annotations

import datetime as dt
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.api.conftest import expect_error, failed_job, sleeping_job  # noqa: F401 (fixtures)

ISSUER = "https://idp.test"
AUDIENCE = "taskplane"
SECRET = "s3cret-" + "x" * 40


class KeyPair:
    """A private key, its public PEM and its JWK (with a `kid`)."""

    def __init__(self, private, kid: str, algorithm: str):
        self.private = private
        self.kid = kid
        self.algorithm = algorithm
        self.public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        algo = jwt.get_algorithm_by_name(algorithm)
        self.jwk = dict(json.loads(algo.to_jwk(private.public_key())), kid=kid, use="sig",
                        alg=algorithm)

    def sign(self, claims: dict, **header) -> str:
        """A token signed with this key, `kid` in its header."""
        return jwt.encode(claims, self.private, algorithm=self.algorithm,
                          headers={"kid": self.kid, **header})


@pytest.fixture(scope="session")
def rsa_old():
    """The RSA signing key in use before a rotation."""
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "old", "RS256")


@pytest.fixture(scope="session")
def rsa_new():
    """The RSA signing key a rotation introduces."""
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "new", "RS256")


@pytest.fixture(scope="session")
def ec_key():
    """An ES256 key pair."""
    return KeyPair(ec.generate_private_key(ec.SECP256R1()), "ec", "ES256")


def claims(tenant: str, /, **overrides) -> dict:
    """Valid claims for `tenant`; an override of None removes the claim, a `timedelta` is a
    time claim that far from now (parameters are made at collection, long before a test runs)."""
    now = int(time.time())
    base = {"sub": "jo", "roles": ["viewer"], "tenant": tenant, "iss": ISSUER,
            "aud": AUDIENCE, "iat": now, "exp": now + 300}
    base.update({name: now + int(value.total_seconds()) if isinstance(value, dt.timedelta)
                 else value for name, value in overrides.items()})
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def jwks_file(tmp_path):
    """`jwks_file.write(*keypairs)`: (re)write the JWKS the app reads; `.path` is its path."""

    class JwksFile:
        path = tmp_path / "jwks.json"

        def write(self, *pairs: KeyPair) -> None:
            self.path.write_text(json.dumps({"keys": [p.jwk for p in pairs]}))

    return JwksFile()


def jwt_settings(**overrides) -> dict:
    """App settings for JWT mode with the test issuer and audience."""
    return {"auth_modes": ("jwt",), "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
            "jwt_leeway": 10.0, **overrides}


def bearer(client, token: str):
    """A caller (see tests/conftest.py) that sends `Authorization: Bearer <token>` only."""
    from tests.conftest import Caller

    caller = Caller(client, "", "", "")
    caller.headers = {"Authorization": f"Bearer {token}"}
    return caller


@pytest.fixture
def keys_app(app_factory):
    """An app taking API keys and, for the admin who makes them, identity headers."""
    return app_factory(auth_modes=("headers", "apikey"))


@pytest.fixture
def admin(keys_app, tenant):
    """Ada, admin of this test's tenant, by identity headers."""
    from tests.conftest import Caller

    return Caller(keys_app.test_client(), "ada", "admin", tenant)


@pytest.fixture
def make_key(admin, keys_app):
    """`make_key(roles=["viewer"], actor="bot", **body)`: (key as created, bearer caller)."""

    def make(roles=("viewer",), actor: str = "bot", **body):
        response = admin.post("/api-keys", json={"name": "ci", "roles": list(roles),
                                                 "actor": actor, **body})
        assert response.status_code == 201, response.get_json()
        key = response.get_json()
        return key, bearer(keys_app.test_client(), key["key"])

    return make
