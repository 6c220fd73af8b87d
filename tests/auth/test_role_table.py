"""README's roles table says what `ROLE_PERMISSIONS` in app/auth.py grants, row by row."""

from __future__ import annotations

import re
from pathlib import Path

from app.auth import ROLE_PERMISSIONS, Permission

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\|[^|]*\(`(?P<permission>[a-z_]+)`\)\s*\|(?P<cells>.*)\|\s*$")


def readme_table() -> dict[str, set[str]]:
    """Role → permission values, as README's roles table marks them."""
    text = README.read_text()
    header = next(line for line in text.splitlines()
                  if line.startswith("| permission |") and "viewer" in line)
    roles = [cell.strip() for cell in header.strip("|").split("|")][1:]
    table = {role: set() for role in roles}
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            cells = [cell.strip() for cell in match["cells"].split("|")]
            for role, cell in zip(roles, cells, strict=True):
                if cell == "✓":
                    table[role].add(match["permission"])
    return table


def test_readme_roles_table_is_the_code_table():
    code = {role: {p.value for p in perms} for role, perms in ROLE_PERMISSIONS.items()}

    assert readme_table() == code


def test_the_readme_table_names_every_permission():
    assert set().union(*readme_table().values()) == {p.value for p in Permission}
