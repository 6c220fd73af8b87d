"""schemathesis hooks of the fuzz gate (loaded with `SCHEMATHESIS_HOOKS=tests.fuzz.hooks`)."""

from __future__ import annotations

import json
import os

import schemathesis
from hypothesis import strategies as st

ENVELOPE_FIELDS = {"code", "message", "details", "request_id"}
KNOWN_IDS: dict[str, list[str]] = json.loads(os.environ.get("TASKPLANE_FUZZ_IDS", "{}"))


@schemathesis.check
def error_envelope(ctx, response, case):
    """Every 4xx and 5xx answer is the shared error envelope, its request id the header's."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"error answer is not JSON: {response.text[:200]!r}") from exc
    error = body.get("error") if isinstance(body, dict) else None
    if set(body) != {"error"} or not isinstance(error, dict) or set(error) != ENVELOPE_FIELDS:
        raise AssertionError(f"error answer outside the envelope: {body!r}")
    if error["request_id"] != response.headers.get("x-request-id", [None])[0]:
        raise AssertionError("request_id differs from X-Request-ID")
    return None


@schemathesis.hook
def flatmap_path_parameters(ctx, path_parameters):
    """Half the cases name an object that exists (`TASKPLANE_FUZZ_IDS`), so views run in full.

    Generated ids alone would almost always answer 404: a finished job, a running one, an
    artifact with content and an API key of the fuzzing tenant are made before the run.
    """
    known = {name: values for name, values in KNOWN_IDS.items()
             if path_parameters and name in path_parameters}
    if not known:
        return st.just(path_parameters)
    existing = st.fixed_dictionaries({name: st.sampled_from(values)
                                      for name, values in known.items()})
    return st.one_of(st.just(path_parameters),
                     existing.map(lambda ids: {**path_parameters, **ids}))
