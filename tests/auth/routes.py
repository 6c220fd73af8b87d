"""The app's routes as the permission table sees them, and how to call each one.

Used by the role matrix and the BOLA tests, so a route added later is covered by both
as soon as it is registered (and fails them until it declares a permission and its
path arguments can be made here).
"""

from __future__ import annotations

import dataclasses
import uuid

from app.api.context import is_public
from app.auth import Permission, declared_permission

BODIES = {  # (method, rule) → a valid body; other routes are called without one
    ("POST", "/jobs"): {"job_type": "echo", "payload": {"message": "m"}, "project": "p"},
    ("POST", "/api-keys"): {"name": "matrix", "roles": ["viewer"]},
    ("PUT", "/quotas/<tenant>"): {"max_artifact_bytes": 1000},
    ("POST", "/artifacts"): {"name": "matrix", "type": "t", "content": "bWF0cml4"},
    ("PUT", "/artifacts/<artifact_id>"): {"metadata": {"changed": True}},
    ("PUT", "/quotas/<tenant>/<job_type>"): {"max_active": 3},
}


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    rule: str
    arguments: tuple[str, ...]
    permission: Permission | None

    def path(self, ids: dict) -> str:
        """The rule with its arguments filled from `ids` (argument name → id)."""
        path = self.rule
        for name in self.arguments:
            path = path.replace(f"<{name}>", ids[name])
        return path

    def call(self, caller, ids: dict):
        """Make the request as `caller` and return the (fully read) response."""
        body = BODIES.get((self.method, self.rule))
        response = getattr(caller, self.method.lower())(self.path(ids), json=body)
        response.get_data()
        response.close()
        return response

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


def routes(app) -> list[Route]:
    """Every non-public (method, rule) of `app`, with the permission it declares."""
    found = []
    for rule in app.url_map.iter_rules():
        if is_public(rule.endpoint):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append(Route(method, rule.rule, tuple(sorted(rule.arguments)),
                               declared_permission(view, method)))
    return sorted(found, key=str)


def missing_ids(route: Route) -> dict:
    """Fresh ids that name nothing, for every argument of `route`."""
    return {name: str(uuid.uuid4()) for name in route.arguments}
