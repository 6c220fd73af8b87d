"""JWT mode: only a token signed by a configured key, with the expected claims, gets in."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import http.server
import json
import threading
import time

import jwt
import pytest

from config.settings import Settings
from tests.auth.conftest import SECRET, bearer, claims, jwt_settings


@pytest.fixture
def rsa_pem_app(app_factory, tmp_path, rsa_old):
    """JWT mode accepting RS256 only, with a public key from a PEM file."""
    pem = tmp_path / "public.pem"
    pem.write_bytes(rsa_old.public_pem)
    return app_factory(**jwt_settings(jwt_algorithms=("RS256",), jwt_public_key=str(pem)))


@pytest.fixture
def mixed_app(app_factory, tmp_path, rsa_old):
    """JWT mode accepting RS256 (PEM key) and HS256 (shared secret) at once."""
    pem = tmp_path / "public.pem"
    pem.write_bytes(rsa_old.public_pem)
    return app_factory(**jwt_settings(jwt_algorithms=("RS256", "HS256"), jwt_public_key=str(pem),
                                      jwt_secret=SECRET))


@pytest.fixture
def jwks_app(app_factory, jwks_file, rsa_old):
    """JWT mode with keys from a JWKS file (kid selection), re-read after 0.2 s."""
    jwks_file.write(rsa_old)
    return app_factory(**jwt_settings(jwt_algorithms=("RS256",), jwt_jwks=str(jwks_file.path),
                                      jwt_jwks_cache_seconds=0.2))


@pytest.fixture
def jwks_url_app(app_factory, jwks_file, rsa_old):
    """JWT mode with keys from a JWKS served over HTTP (PyJWT's client), cached 0.2 s."""
    jwks_file.write(rsa_old)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(jwks_file.path.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/{jwks_file.path.name}"
    yield app_factory(**jwt_settings(jwt_algorithms=("RS256",), jwt_jwks=url,
                                     jwt_jwks_cache_seconds=0.2))
    server.shutdown()


def hmac_token(payload: dict, secret: bytes) -> str:
    """An HS256 token built by hand, with any byte string as the secret."""
    def part(data: bytes) -> str:
        return jwt.utils.base64url_encode(data).decode()

    signing_input = (part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "."
                     + part(json.dumps(payload).encode()))
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def status(app, token: str) -> int:
    """The status of `GET /jobs` with `token`; a 401 must carry the error envelope."""
    response = app.test_client().get("/jobs", headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        assert response.get_json()["error"]["code"] == "unauthenticated"
    return response.status_code


def test_a_valid_token_names_actor_roles_and_tenant(rsa_pem_app, rsa_old, tenant):
    token = rsa_old.sign(claims(tenant, sub="ci-bot", roles=["viewer", "unknown"]))
    bot = bearer(rsa_pem_app.test_client(), token)

    job = bot.submit("echo", {"message": "m"}).get_json()

    assert (job["actor"], job["tenant"]) == ("ci-bot", tenant)
    assert bot.get("/jobs").get_json()["items"][0]["id"] == job["id"]
    assert bot.get("/events").status_code == 403  # viewer: roles come from the token


def test_roles_may_be_a_comma_separated_string(rsa_pem_app, rsa_old, tenant):
    token = rsa_old.sign(claims(tenant, roles="viewer, Operator"))

    assert bearer(rsa_pem_app.test_client(), token).get("/events").status_code == 200


@pytest.mark.parametrize("change", [
    pytest.param({"exp": dt.timedelta(seconds=-60)}, id="expired"),
    pytest.param({"exp": None}, id="missing-exp"),
    pytest.param({"sub": None}, id="missing-sub"),
    pytest.param({"iss": None}, id="missing-iss"),
    pytest.param({"aud": None}, id="missing-aud"),
    pytest.param({"aud": "someone-else"}, id="wrong-aud"),
    pytest.param({"iss": "https://evil.test"}, id="wrong-iss"),
    pytest.param({"tenant": None}, id="missing-tenant"),
    pytest.param({"tenant": "  "}, id="blank-tenant"),
    pytest.param({"nbf": dt.timedelta(seconds=600)}, id="not-yet-valid"),
])
def test_flawed_claims_are_401(rsa_pem_app, rsa_old, tenant, change):
    assert status(rsa_pem_app, rsa_old.sign(claims(tenant))) == 200
    assert status(rsa_pem_app, rsa_old.sign(claims(tenant, **change))) == 401


def test_expiry_has_a_small_leeway(rsa_pem_app, rsa_old, tenant):
    assert status(rsa_pem_app, rsa_old.sign(claims(tenant, exp=int(time.time()) - 3))) == 200
    assert status(rsa_pem_app, rsa_old.sign(claims(tenant, exp=int(time.time()) - 30))) == 401


def test_alg_none_is_401(rsa_pem_app, tenant):
    unsigned = jwt.encode(claims(tenant), None, algorithm="none")

    assert status(rsa_pem_app, unsigned) == 401


def test_a_tampered_or_foreign_signature_is_401(rsa_pem_app, rsa_old, rsa_new, tenant):
    good = rsa_old.sign(claims(tenant))
    head, body, signature = good.split(".")
    forged_body = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(body).replace(b'"viewer"', b'"admin"')).decode()

    assert status(rsa_pem_app, f"{head}.{forged_body}.{signature}") == 401
    assert status(rsa_pem_app, rsa_new.sign(claims(tenant))) == 401


@pytest.mark.parametrize("app_name", ["rsa_pem_app", "mixed_app"])
def test_hs256_signed_with_the_public_key_is_401(request, app_factory, rsa_old, tenant, app_name):
    """Algorithm confusion: the RSA public key (public knowledge) used as an HMAC secret."""
    app = request.getfixturevalue(app_name)
    token = hmac_token(claims(tenant), rsa_old.public_pem)  # PyJWT itself refuses to do this

    assert status(app, token) == 401


def test_hs256_with_the_configured_secret_is_accepted_beside_rs256(mixed_app, rsa_old, tenant):
    assert status(mixed_app, jwt.encode(claims(tenant), SECRET, algorithm="HS256")) == 200
    assert status(mixed_app, rsa_old.sign(claims(tenant))) == 200
    assert status(mixed_app, jwt.encode(claims(tenant), "x" * 40, algorithm="HS256")) == 401


def test_an_algorithm_not_configured_is_401(rsa_pem_app, tenant):
    assert status(rsa_pem_app, jwt.encode(claims(tenant), SECRET, algorithm="HS256")) == 401


def test_es256_with_a_pem_key(app_factory, tmp_path, ec_key, rsa_old, tenant):
    pem = tmp_path / "ec.pem"
    pem.write_bytes(ec_key.public_pem)
    app = app_factory(**jwt_settings(jwt_algorithms=("ES256",), jwt_public_key=str(pem)))

    assert status(app, ec_key.sign(claims(tenant))) == 200
    assert status(app, rsa_old.sign(claims(tenant))) == 401


@pytest.mark.parametrize("app_name", ["rsa_pem_app", "jwks_app"])
@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "é"])
def test_garbage_bearer_tokens_are_401_not_500(request, app_factory, app_name, token):
    assert status(request.getfixturevalue(app_name), token) == 401


def test_jwks_selects_the_key_by_kid_and_refuses_an_unknown_kid(jwks_app, rsa_old, rsa_new,
                                                                 tenant):
    assert status(jwks_app, rsa_old.sign(claims(tenant))) == 200
    assert status(jwks_app, rsa_old.sign(claims(tenant), kid="nobody")) == 401
    assert status(jwks_app, rsa_new.sign(claims(tenant))) == 401  # kid "new" not published
    no_kid = jwt.encode(claims(tenant), rsa_old.private, algorithm="RS256")
    assert status(jwks_app, no_kid) == 401


@pytest.mark.parametrize("app_name", ["jwks_app", "jwks_url_app"])
def test_key_rotation_during_and_after_the_overlap(request, app_factory, jwks_file, rsa_old,
                                                   rsa_new, tenant, app_name):
    jwks_app = request.getfixturevalue(app_name)
    old_token, new_token = rsa_old.sign(claims(tenant)), rsa_new.sign(claims(tenant))
    assert status(jwks_app, old_token) == 200

    jwks_file.write(rsa_old, rsa_new)  # overlap: both keys published
    time.sleep(0.3)
    assert status(jwks_app, old_token) == 200
    assert status(jwks_app, new_token) == 200

    jwks_file.write(rsa_new)  # the old key is retired
    time.sleep(0.3)
    assert status(jwks_app, old_token) == 401
    assert status(jwks_app, new_token) == 200


@pytest.mark.parametrize("content", [None, "not json", '{"keys": "nope"}', '{"keys": []}'])
def test_a_missing_or_broken_jwks_file_is_401_not_500(jwks_app, jwks_file, rsa_old, tenant,
                                                      content):
    if content is None:
        jwks_file.path.unlink()
    else:
        jwks_file.path.write_text(content)

    assert status(jwks_app, rsa_old.sign(claims(tenant))) == 401


def test_an_unreadable_public_key_stops_the_start(app_factory, tmp_path):
    with pytest.raises(FileNotFoundError):
        app_factory(**jwt_settings(jwt_public_key=str(tmp_path / "absent.pem")))
    app_factory()  # back to the session's settings for the tests that follow


@pytest.mark.parametrize("overrides, message", [
    ({"jwt_algorithms": ("HS256",), "jwt_secret": "short"}, "at least 32 bytes"),
    ({"jwt_algorithms": ("HS256",), "jwt_secret": ""}, "at least 32 bytes"),
    ({"jwt_algorithms": ("none",), "jwt_secret": SECRET}, "unsupported"),
    ({"jwt_algorithms": ("RS256",)}, "TASKPLANE_JWT_PUBLIC_KEY or TASKPLANE_JWT_JWKS"),
    ({"jwt_algorithms": ("HS256",), "jwt_secret": SECRET, "jwt_issuer": ""}, "ISSUER"),
    ({"jwt_algorithms": ("HS256",), "jwt_secret": SECRET, "jwt_audience": ""}, "AUDIENCE"),
])
def test_inconsistent_jwt_settings_refuse_to_start(overrides, message):
    with pytest.raises(RuntimeError, match=message):
        Settings(**jwt_settings(**overrides)).check()
