"""Who is calling: the principal behind a request, and what each role may do."""

from __future__ import annotations

import dataclasses
import enum

from app.errors import Forbidden, InvalidIdentity, Unauthenticated
from app.identity import ACTOR, MAX_ROLES, REASON, ROLE, TENANT, IdentityRefused, parse_roles


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

    def __post_init__(self):
        """Every principal is within the identity bounds (`app.identity`), whichever door
        made it: `IdentityRefused` otherwise, which the door answers in its own way."""
        TENANT.check(self.tenant)
        ACTOR.check(self.actor)
        REASON.check(self.reason)
        if len(self.roles) > MAX_ROLES:
            raise IdentityRefused("roles", f"more than {MAX_ROLES} roles")
        for role in self.roles:
            ROLE.check(role)

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


def reason_from(headers) -> str:
    """The `X-Reason` of a request as sent (UTF-8), `unspecified` when none is given.

    `InvalidIdentity` when it is not UTF-8 or outside `app.identity.REASON`.
    """
    sent = headers.get("X-Reason", "").strip()  # surrounding white space is not the value's
    if not sent:
        return "unspecified"
    try:
        sent = sent.encode("latin-1").decode("utf-8")  # WSGI hands header bytes as latin-1
    except UnicodeEncodeError:
        pass  # already text (a WSGI server that decoded it)
    except UnicodeDecodeError:
        raise refused_header("X-Reason", IdentityRefused("reason", "not UTF-8")) from None
    try:
        return REASON.check(sent)
    except IdentityRefused as refused:
        raise refused_header("X-Reason", refused) from None


def refused_header(header: str, refused: IdentityRefused) -> InvalidIdentity:
    """The 400 answering an identity or audit header outside its bound."""
    return InvalidIdentity(f"{header} refused: {refused.problem}",
                           details={"header": header, "problem": refused.problem})


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


IDENTITY_HEADERS = {"actor": "X-Actor", "roles": "X-Roles", "role": "X-Roles",
                    "tenant": "X-Tenant", "reason": "X-Reason"}


def principal_from_headers(headers, reason: str) -> Principal:
    """Trusted-proxy mode: `X-Actor`, `X-Roles`, `X-Tenant` (all required), and the
    request's `reason` (from `reason_from`).

    Missing or blank: `Unauthenticated`; outside its bound: `InvalidIdentity`.
    """
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
    try:
        return Principal(actor=actor, roles=parse_roles(roles_header), tenant=tenant,
                         reason=reason)
    except IdentityRefused as refused:
        raise refused_header(IDENTITY_HEADERS[refused.field], refused) from None
