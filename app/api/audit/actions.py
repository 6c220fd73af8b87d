"""Audit action names and targets, derived in one place from the route and the method.

The rule, for a URL rule's static segments `resource[/sub...]`:
- `POST /resource` → `resource.create`; `GET /resource` → `resource.list`;
  `GET|PUT|PATCH|DELETE /resource/<id>` → `resource.read|update|update|delete`;
- `POST /resource/<id>/verb` → `resource.verb` (`jobs.cancel`, `jobs.retry`);
- any other method on a sub-resource → `resource.sub.read|update|delete`.
`OVERRIDES` names the endpoints whose domain word differs (`POST /jobs` submits).
A request that matched no route is `unrouted`.
"""

from __future__ import annotations

import re

OVERRIDES = {
    ("jobs.Jobs", "POST"): "jobs.submit",
    ("jobs.Job", "DELETE"): "jobs.cancel",
}
VERBS = {"GET": "read", "HEAD": "read", "PUT": "update", "PATCH": "update", "DELETE": "delete",
         "POST": "create", "OPTIONS": "options"}
UNROUTED = "unrouted"
CONVERTER = re.compile(r"^<[^>]+>$")
# View arguments that may carry a credential (signed links); never recorded as a target.
SECRET_ARGS = re.compile(r"token|secret|signature|password", re.IGNORECASE)
MAX_TARGET = 256


def _name(segment: str) -> str:
    return segment.replace("-", "_").lower()


def action_name(endpoint: str | None, rule: str | None, method: str) -> str:
    """The stable action name of a call to `rule` (a Flask URL rule) with `method`."""
    if endpoint is None or rule is None:
        return UNROUTED
    method = method.upper()
    if (endpoint, method) in OVERRIDES:
        return OVERRIDES[(endpoint, method)]
    parts = [part for part in rule.strip("/").split("/") if part]
    static = [_name(part) for part in parts if not CONVERTER.match(part)]
    if not static:
        return UNROUTED
    resource, sub = static[0], static[1:]
    has_id = any(CONVERTER.match(part) for part in parts)
    if sub:
        if method == "POST":
            return ".".join([resource, *sub])
        return ".".join([resource, *sub, VERBS.get(method, method.lower())])
    if method in ("GET", "HEAD") and not has_id:
        return f"{resource}.list"
    return f"{resource}.{VERBS.get(method, method.lower())}"


def target_of(view_args: dict | None, created_id: str | None = None) -> str | None:
    """The object a call is about: its URL's ids (`a/b` when several), else the created id."""
    ids = [str(value) for name, value in (view_args or {}).items()
           if not SECRET_ARGS.search(name)]
    if ids:
        return "/".join(ids)[:MAX_TARGET]
    return str(created_id)[:MAX_TARGET] if created_id is not None else None
