"""The identity bounds themselves: each maximum and character set, and the columns holding them."""

from __future__ import annotations

import pytest
from sqlalchemy import String

from app import models  # noqa: F401 (the tables)
from app.auth import Principal
from app.db import Base
from app.identity import (
    ACTOR,
    BOUNDS,
    KEY_NAME,
    MAX_ROLES,
    REASON,
    REQUEST_ID,
    ROLE,
    TENANT,
    IdentityRefused,
    parse_roles,
)

# Which columns hold which bound's values (every table that has such a column).
COLUMNS = {TENANT: {"tenant"}, ACTOR: {"actor", "created_by"}, REASON: {"reason"},
           REQUEST_ID: {"request_id"}}


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda b: b.field)
def test_the_maximum_is_accepted_and_one_more_refused(bound):
    longest = "a" * bound.max_length

    assert bound.check(longest) == longest
    with pytest.raises(IdentityRefused, match=f"longer than {bound.max_length}"):
        bound.check(longest + "a")


@pytest.mark.parametrize("bound, value", [
    (TENANT, "acme corp"), (TENANT, "acme/other"), (TENANT, "-acme"), (TENANT, "acm\u00e9"),
    (TENANT, " acme"), (ACTOR, "ada "), (ACTOR, "a\tda"), (ACTOR, "ad\u00e1"),
    (ROLE, "vie wer"), (ROLE, "1viewer"), (REASON, "line\nbreak"), (REASON, "nul\x00"),
    (REQUEST_ID, "id with space"), (KEY_NAME, "ci\x7f"), (TENANT, ""), (ACTOR, None),
])
def test_a_character_outside_the_set_is_refused_never_dropped(bound, value):
    with pytest.raises(IdentityRefused):
        bound.check(value)


@pytest.mark.parametrize("bound, value", [
    (TENANT, "Acme_2.prod-eu"), (ACTOR, "CN=ci bot, O=Example (build #7)"),
    (ACTOR, "schedule:42"), (REASON, "release 4.2 \u2014 caf\u00e9 \U0001F680"),
    (REQUEST_ID, "req:1.2_3-4"), (ROLE, "Operator"),
])
def test_values_inside_the_bound_are_kept_exactly(bound, value):
    assert bound.check(value) == value


def test_roles_are_refused_past_the_count_or_a_bad_name_and_read_case_blind():
    assert parse_roles(" viewer , Operator ,, ") == ("viewer", "operator")
    assert parse_roles(["admin"] * MAX_ROLES) == ("admin",) * MAX_ROLES
    with pytest.raises(IdentityRefused, match=f"more than {MAX_ROLES}"):
        parse_roles(",".join(["admin"] * (MAX_ROLES + 1)))
    with pytest.raises(IdentityRefused, match="longer than"):
        parse_roles("viewer," + "r" * (ROLE.max_length + 1))
    with pytest.raises(IdentityRefused):
        parse_roles(["viewer", 7])
    with pytest.raises(IdentityRefused):
        parse_roles("," * 2000)  # no role, but far past any list of them


def test_a_principal_is_never_made_outside_the_bounds():
    Principal(actor="a" * 256, roles=("viewer",) * 16, tenant="t" * 128, reason="r" * 512)
    for field, value in [("tenant", "t" * 129), ("actor", "a" * 257), ("reason", "r" * 513),
                         ("roles", ("viewer",) * 17), ("roles", ("vie wer",))]:
        with pytest.raises(IdentityRefused):
            Principal(**dict({"actor": "a", "roles": ("viewer",), "tenant": "t"},
                             **{field: value}))


def test_every_column_holding_an_identity_value_holds_its_maximum():
    checked = []
    for table in Base.metadata.tables.values():
        for bound, names in COLUMNS.items():
            for name in names & set(table.columns.keys()):
                column = table.columns[name]
                assert isinstance(column.type, String), (table.name, name)
                assert column.type.length >= bound.max_length, (table.name, name)
                checked.append(f"{table.name}.{name}")
    key_name = Base.metadata.tables["api_keys"].columns["name"]
    assert key_name.type.length >= KEY_NAME.max_length
    assert {"jobs.tenant", "jobs.actor", "audit_log.tenant", "audit_log.actor",
            "audit_log.reason", "audit_log.request_id", "api_keys.tenant",
            "events.tenant", "slow_requests.actor"} <= set(checked)
