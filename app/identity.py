"""The bounds of every identity and audit value: one maximum and one character set each.

A value arrives at a door (identity headers, a JWT's claims, an API key's row, a body
that creates a key) and is checked there, whole: a value over its maximum or outside its
character set is refused, never cut, trimmed or otherwise altered, so two different
values can never become one below the door. The maxima are the database columns'
lengths (`app/models`), which therefore always hold what the door lets in.

Each door turns `IdentityRefused` into its own answer: 400 `invalid_identity` for a
header, 401 for a credential, 422 for a body field.
"""

from __future__ import annotations

import dataclasses
import re


class IdentityRefused(ValueError):
    """A value outside its bound: `field` names the value, `problem` says what is wrong."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class Bound:
    """One kind of value: its maximum length and its allowed characters."""

    field: str
    max_length: int
    pattern: re.Pattern
    charset: str  # the allowed characters, said for people

    def problem(self, value) -> str | None:
        """What is wrong with `value`, or None when it is within this bound."""
        if not isinstance(value, str):
            return "not a string"
        if not value:
            return "empty"
        if len(value) > self.max_length:
            return f"longer than {self.max_length} characters"
        if self.pattern.fullmatch(value) is None:
            return f"characters outside {self.charset}"
        return None

    def check(self, value) -> str:
        """`value` itself when it is within this bound; `IdentityRefused` otherwise."""
        problem = self.problem(value)
        if problem is not None:
            raise IdentityRefused(self.field, problem)
        return value


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PRINTABLE_ASCII = re.compile(r"[!-~](?:[ -~]*[!-~])?")
_NO_CONTROLS = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")

TENANT = Bound("tenant", 128, _NAME,
               "letters, digits, '.', '_' and '-', beginning with a letter or digit")
ACTOR = Bound("actor", 256, _PRINTABLE_ASCII,
              "printable ASCII, not beginning or ending with a space")
ROLE = Bound("role", 64, re.compile(r"[A-Za-z][A-Za-z0-9_-]*"),
             "letters, digits, '_' and '-', beginning with a letter")
REASON = Bound("reason", 512, _NO_CONTROLS, "any character but control characters")
REQUEST_ID = Bound("request_id", 128, re.compile(r"[A-Za-z0-9._:-]+"),
                   "letters, digits, '.', '_', ':' and '-'")
KEY_NAME = Bound("name", 128, _PRINTABLE_ASCII,
                 "printable ASCII, not beginning or ending with a space")
MAX_ROLES = 16
ROLES_TEXT_MAX = MAX_ROLES * (ROLE.max_length + 2)  # a comma separated list, spaces allowed
BOUNDS = (TENANT, ACTOR, ROLE, REASON, REQUEST_ID, KEY_NAME)


def parse_roles(roles) -> tuple[str, ...]:
    """Role names from a comma separated string or a list: each within `ROLE`, at most
    `MAX_ROLES`; case does not matter (names are compared in lower case), blanks between
    commas are skipped. `IdentityRefused` for anything else."""
    if isinstance(roles, str):
        if len(roles) > ROLES_TEXT_MAX:
            raise IdentityRefused("roles", f"longer than {ROLES_TEXT_MAX} characters")
        roles = [item.strip() for item in roles.split(",")]
        roles = [item for item in roles if item]
    elif not isinstance(roles, (list, tuple)):
        raise IdentityRefused("roles", "neither a list nor a comma separated string")
    if len(roles) > MAX_ROLES:
        raise IdentityRefused("roles", f"more than {MAX_ROLES} roles")
    return tuple(ROLE.check(role).lower() for role in roles)

