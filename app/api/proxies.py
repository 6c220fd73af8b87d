"""Trusted proxies: only a peer on `TASKPLANE_TRUSTED_PROXIES` may speak for the client.

For such a peer, werkzeug's `ProxyFix` takes the client address from `X-Forwarded-For`
(and the scheme from `X-Forwarded-Proto`); identity headers are believed only from it.
Any other peer's forwarding and identity headers are ignored.
"""

from __future__ import annotations

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix

TRUSTED_PEER = "taskplane.trusted_peer"  # WSGI environ key set for every request


def peer_in(address: str | None, networks) -> bool:
    """Whether `address` lies in one of `networks` (False for a missing or odd address)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)


class TrustedProxies:
    """WSGI middleware: `ProxyFix` for requests from trusted peers, nothing for the others."""

    def __init__(self, wsgi_app, networks):
        self.wsgi_app = wsgi_app
        self.networks = tuple(networks)
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1)

    def __call__(self, environ, start_response):
        trusted = peer_in(environ.get("REMOTE_ADDR"), self.networks)
        environ[TRUSTED_PEER] = trusted
        return (self.fixed if trusted else self.wsgi_app)(environ, start_response)
