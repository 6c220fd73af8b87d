"""The fuzz gate for the identity and audit headers: generated over-long and odd values.

Every operation of the OpenAPI document is called through gunicorn with one identity or
audit header replaced by a value hypothesis generates outside its bound
(`app.identity`): the allowed characters but one too many and more, or a value of the
allowed length holding a character outside the set. Each is refused whole — 400
`invalid_identity` naming that header, in the envelope — on every operation that takes
an identity (the public ones ignore identity headers, never a bad request id), and
nothing of the fuzzing tenant changes.
"""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.identity import ACTOR, REASON, REQUEST_ID, ROLE, TENANT
from tests.fuzz.conftest import call, identity, known_objects
from tests.harness import http_request

pytestmark = pytest.mark.slow

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
LATIN1_ODD = "".join(chr(c) for c in range(0xA0, 0x100)) + "\x7f\t"
HEADERS = {  # header: (bound, its allowed characters, characters outside its set)
    "X-Tenant": (TENANT, string.ascii_letters + string.digits + "._-", " /:@,;" + LATIN1_ODD),
    "X-Actor": (ACTOR, PRINTABLE.strip(), LATIN1_ODD),
    "X-Roles": (ROLE, string.ascii_letters + string.digits + "_-", " ./:@" + LATIN1_ODD),
    # Reason is UTF-8: a lone byte of 0xc0 or more is none, DEL a control character.
    "X-Reason": (REASON, PRINTABLE.strip(), "\x7f\xff\xfe\xc0"),
    "X-Request-ID": (REQUEST_ID, string.ascii_letters + string.digits + "._:-",
                     " /@,;" + LATIN1_ODD),
}


@st.composite
def hostile(draw) -> tuple[str, str]:
    """(header, value): one identity or audit header with a value outside its bound."""
    header = draw(st.sampled_from(sorted(HEADERS)))
    bound, allowed, odd = HEADERS[header]
    letter = st.sampled_from(string.ascii_letters)  # begins and ends the value
    if draw(st.booleans()):  # the allowed characters, over the maximum
        middle = draw(st.text(st.sampled_from(allowed), min_size=bound.max_length - 1,
                              max_size=bound.max_length + 200))
        value = draw(letter) + middle + draw(letter)
    else:  # within the maximum, with a character outside the set
        head = draw(st.text(st.sampled_from(allowed), max_size=bound.max_length // 2 - 2))
        tail = draw(st.text(st.sampled_from(allowed), max_size=bound.max_length // 2 - 2))
        value = draw(letter) + head + draw(st.sampled_from(odd)) + tail + draw(letter)
    if header == "X-Roles":
        value = "viewer," + value if len(value) <= ROLE.max_length else value
    return header, value


def operations(stack) -> list[tuple[str, str, bool]]:
    """(method, path with known ids, public) of every operation in the OpenAPI document."""
    known = known_objects(stack)
    status, body = http_request(stack.port, "GET", "/openapi.json")
    document = json.loads(body)
    found = []
    for template, item in document["paths"].items():
        path = template
        for name, values in known.items():
            path = path.replace("{" + name + "}", values[0])
        path = path.replace("{tenant}", stack.tenant).replace("{job_type}", "echo")
        path = path.replace("{token}", "not-a-token")
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, operation.get("security") == []))
    return found


def fuzz_tenant_state(stack) -> dict:
    """What the fuzzing tenant holds: its jobs, artifacts and keys, by id."""
    return {path: sorted(item["id"] for item in call(stack, "GET", f"{path}?limit=500")["items"])
            for path in ("/jobs", "/artifacts", "/api-keys")}


def test_generated_identity_values_out_of_bounds_are_refused_on_every_operation(stack):
    ops = operations(stack)
    before = fuzz_tenant_state(stack)
    seen = {"requests": 0, "refused": 0}

    @settings(max_examples=len(ops) * 6, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(op=st.sampled_from(ops), bad=hostile())
    def refused(op, bad):
        method, path, public = op
        header, value = bad
        headers = {**identity(stack), "Content-Type": "application/json", header: value}
        status, body = http_request(stack.port, method, path, b"{}", headers, timeout=30)
        seen["requests"] += 1
        if public and header != "X-Request-ID":
            assert status < 500, (method, path, status, body[:300])
            return
        answer = json.loads(body)
        assert status == 400, (method, path, header, value[:60], status, answer)
        assert answer["error"]["code"] == "invalid_identity", answer
        assert answer["error"]["details"]["header"] == header, answer
        seen["refused"] += 1

    refused()

    print(f"\nidentity fuzz: {json.dumps(seen)} over {len(ops)} operations")
    assert seen["refused"] > len(ops)
    assert fuzz_tenant_state(stack) == before
