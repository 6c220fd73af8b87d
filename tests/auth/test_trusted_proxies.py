"""Header mode believes only trusted proxies; behind one, the client address is X-Forwarded-For.

The peer address is real: the app runs under gunicorn bound to 127.0.0.1, with an
allow-list that does or does not contain 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest

from app.api.context import source_address
from config.settings import DEV_SECRET_KEY, Settings
from tests.conftest import worker_env
from tests.harness import Gunicorn, http_request

IDENTITY = {"X-Actor": "alice", "X-Roles": "viewer", "X-Tenant": "t-proxy"}


@pytest.fixture
def serve(settings, tmp_path):
    """`serve(trusted_proxies)`: gunicorn in production mode with header auth and that list."""
    servers = []

    def start(trusted: str) -> Gunicorn:
        env = dict(worker_env(settings), TASKPLANE_ENV="production",
                   TASKPLANE_SECRET_KEY="k" * 40, TASKPLANE_AUTH_MODES="headers",
                   TASKPLANE_TRUSTED_PROXIES=trusted)
        server = Gunicorn("app:create_app()", env, tmp_path / f"gunicorn-{len(servers)}.log",
                          workers=1)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def get_jobs(server: Gunicorn, headers: dict) -> tuple[int, dict]:
    """`GET /jobs` over a real connection: (status, JSON body)."""
    status, body = http_request(server.port, "GET", "/jobs", headers=headers)
    return status, json.loads(body)


def test_headers_from_a_trusted_proxy_are_believed(serve):
    server = serve("10.0.0.0/8, 127.0.0.1")

    status, body = get_jobs(server, dict(IDENTITY, **{"X-Forwarded-For": "203.0.113.7"}))

    assert status == 200, body


def test_headers_from_an_untrusted_peer_are_ignored(serve):
    server = serve("10.0.0.0/8")

    status, body = get_jobs(server, dict(IDENTITY, **{"X-Forwarded-For": "10.1.1.1"}))

    assert status == 401
    assert body["error"]["code"] == "unauthenticated"
    assert body["error"]["details"] == {"auth_modes": ["headers"]}


def test_public_probes_answer_any_peer(serve):
    assert http_request(serve("10.0.0.0/8").port, "GET", "/livez")[0] == 200


@pytest.mark.parametrize("peer, forwarded, believed, source", [
    ("10.2.3.4", "203.0.113.7", True, "203.0.113.7"),
    ("10.2.3.4", "198.51.100.1, 203.0.113.7", True, "203.0.113.7"),  # the proxy's own entry
    ("10.2.3.4", None, True, "10.2.3.4"),
    ("192.0.2.5", "10.2.3.4", False, "192.0.2.5"),  # a forged header from outside
    ("not-an-ip", "203.0.113.7", False, "not-an-ip"),
])
def test_source_address_and_header_trust(app_factory, peer, forwarded, believed, source):
    app = app_factory(trusted_proxies=("10.0.0.0/8",))
    seen = []
    app.after_request(lambda response: seen.append(source_address()) or response)
    headers = dict(IDENTITY, **({"X-Forwarded-For": forwarded} if forwarded else {}))

    response = app.test_client().get("/jobs", headers=headers,
                                     environ_base={"REMOTE_ADDR": peer})

    assert response.status_code == (200 if believed else 401)
    assert seen == [source]


def test_without_an_allow_list_development_believes_any_peer(app_factory):
    app = app_factory(trusted_proxies=())

    response = app.test_client().get("/jobs", headers=IDENTITY,
                                     environ_base={"REMOTE_ADDR": "192.0.2.5"})

    assert response.status_code == 200


@pytest.mark.parametrize("overrides, message", [
    ({"auth_modes": ("headers",)}, "TASKPLANE_TRUSTED_PROXIES"),
    ({"auth_modes": ("apikey",), "secret_key": DEV_SECRET_KEY}, "TASKPLANE_SECRET_KEY"),
    ({"auth_modes": ("headers",), "trusted_proxies": ("10.0.0.0/8",),
      "secret_key": DEV_SECRET_KEY}, "TASKPLANE_SECRET_KEY"),
    ({"auth_modes": ("headers",), "trusted_proxies": ("10.0.0.300/8",)},
     "TASKPLANE_TRUSTED_PROXIES"),
    ({"auth_modes": ("kerberos",)}, "TASKPLANE_AUTH_MODES"),
    ({"auth_modes": ()}, "TASKPLANE_AUTH_MODES"),
])
def test_production_refuses_unsafe_settings(overrides, message):
    values = dict({"env": "production", "secret_key": "k" * 40}, **overrides)

    with pytest.raises(RuntimeError, match=message):
        Settings(**values).check()


def test_production_starts_with_an_allow_list_or_without_header_mode():
    Settings(env="production", secret_key="k" * 40, auth_modes=("headers", "apikey"),
             trusted_proxies=("10.0.0.0/8", "::1")).check()
    Settings(env="production", secret_key="k" * 40, auth_modes=("apikey",)).check()


def test_gunicorn_refuses_to_boot_in_production_with_header_mode_and_no_allow_list(
        settings, tmp_path):
    env = dict(worker_env(settings), TASKPLANE_ENV="production", TASKPLANE_SECRET_KEY="k" * 40,
               TASKPLANE_AUTH_MODES="headers", TASKPLANE_TRUSTED_PROXIES="")
    with pytest.raises(Exception, match="exited"):
        Gunicorn("app:create_app()", env, tmp_path / "refused.log", workers=1)
    assert "TASKPLANE_TRUSTED_PROXIES" in (tmp_path / "refused.log").read_text()
