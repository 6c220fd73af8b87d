"""Who is calling: the principal behind a request, and what each role may do."""

from __future__ import annotations

import dataclasses
import enum

from app.errors import Forbidden, Unauthenticated


class Permission(enum.Enum):
    """Everything a role can be allowed to do."""

    READ = "read"
    SUBMIT = "submit"
    MANAGE_OWN_JOBS = "manage_own_jobs"
    MANAGE_TENANT_JOBS = "manage_tenant_jobs"
    WRITE_ARTIFACTS = "write_artifacts"
    READ_GOVERNANCE = "read_governance"
    ADMINISTER = "administer"


P = Permission
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({P.READ, P.SUBMIT, P.MANAGE_OWN_JOBS}),
    "publisher": frozenset({P.READ, P.SUBMIT, P.MANAGE_OWN_JOBS, P.WRITE_ARTIFACTS}),
    "operator": frozenset(
        {P.READ, P.SUBMIT, P.MANAGE_OWN_JOBS, P.MANAGE_TENANT_JOBS, P.READ_GOVERNANCE}
    ),
    "admin": frozenset(Permission),
}


@dataclasses.dataclass(frozen=True)
class Principal:
    """The caller of one request: actor, roles, tenant and the reason given."""

    actor: str
    roles: tuple[str, ...]
    tenant: str
    reason: str = "unspecified"

    @property
    def permissions(self) -> frozenset[Permission]:
        """Union of the permissions of the known roles; unknown roles grant nothing."""
        granted = frozenset()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS.get(role, frozenset())
        return granted

    def can(self, permission: Permission) -> bool:
        """Whether this principal holds `permission`."""
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise `Forbidden` unless this principal holds `permission`."""
        if not self.can(permission):
            raise Forbidden(
                f"missing permission {permission.value!r}",
                details={"permission": permission.value, "roles": list(self.roles)},
            )


def parse_roles(roles) -> tuple[str, ...]:
    """Role names from a comma separated string or a list: trimmed, lower case, blanks dropped."""
    if isinstance(roles, str):
        roles = roles.split(",")
    return tuple(r.strip().lower() for r in roles if isinstance(r, str) and r.strip())


def reason_from(headers) -> str:
    """The `X-Reason` of a request, `unspecified` when none is given."""
    return (headers.get("X-Reason", "").strip() or "unspecified")[:512]


# --- which permission each route needs ------------------------------------------------------

ROUTE_PERMISSION_ATTR = "_taskplane_permission"


def requires(permission: Permission):
    """Declare the permission a view method needs; `authorize` enforces it before the view."""

    def declare(view):
        setattr(view, ROUTE_PERMISSION_ATTR, permission)
        return view

    return declare


def declared_permission(view_func, method: str) -> Permission | None:
    """The permission declared with `requires` on the view handling `method`, if any."""
    view_class = getattr(view_func, "view_class", None)
    handler = getattr(view_class, method.lower(), None) if view_class else view_func
    if handler is None and method.upper() == "HEAD" and view_class is not None:
        handler = getattr(view_class, "get", None)
    return getattr(handler, ROUTE_PERMISSION_ATTR, None)


def principal_from_headers(headers) -> Principal:
    """Trusted-proxy mode: `X-Actor`, `X-Roles`, `X-Tenant` (all required), `X-Reason`."""
    actor = headers.get("X-Actor", "").strip()
    tenant = headers.get("X-Tenant", "").strip()
    roles_header = headers.get("X-Roles")
    missing = [
        name
        for name, value in (("X-Actor", actor), ("X-Roles", roles_header), ("X-Tenant", tenant))
        if not value
    ]
    if missing:
        raise Unauthenticated("missing credentials", details={"missing_headers": missing})
    return Principal(actor=actor[:256], roles=parse_roles(roles_header), tenant=tenant[:128],
                     reason=reason_from(headers))
