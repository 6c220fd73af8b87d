"""`GET /job-types`: the catalog, with payload JSON Schemas, queues, retry policy and limits."""

from __future__ import annotations

import pytest

from app.extensions import runtime

BUILTIN = {"echo", "sleep", "plan-build", "eval-run", "artifact-bundle"}
TEST_COMMAND_TYPES = {"py-lines", "py-exit", "py-hang", "py-hang-limited"}


@pytest.fixture
def job_types(caller):
    """The catalog as `GET /job-types` shows it, by name."""
    response = caller("viewer").get("/job-types")
    assert response.status_code == 200
    return {entry["name"]: entry for entry in response.get_json()["items"]}


def test_every_catalog_entry_is_listed(app, job_types):
    assert set(job_types) == set(runtime.catalog)
    assert BUILTIN | TEST_COMMAND_TYPES <= set(job_types)


def test_each_entry_shows_queue_retry_policy_time_limits_and_default_quota(app, job_types):
    for name, spec in runtime.catalog.items():
        entry = job_types[name]
        assert entry["description"] == spec.description
        assert entry["queue"] == spec.queue
        assert entry["retry_policy"] == {
            "max_retries": spec.max_retries, "retry_backoff": spec.retry_backoff,
            "retry_backoff_max": spec.retry_backoff_max, "retry_jitter": spec.retry_jitter,
            "retry_on": list(spec.retry_on)}
        assert entry["time_limits"] == {"soft_seconds": spec.soft_time_limit,
                                        "hard_seconds": spec.time_limit}
        assert entry["default_quota"] == {"max_active": spec.max_active,
                                          "max_per_hour": spec.max_per_hour}


def test_echo_entry(job_types):
    echo = job_types["echo"]

    assert echo["kind"] == "python"
    assert echo["queue"] == "default"
    assert echo["retry_policy"]["max_retries"] == 3
    assert echo["retry_policy"]["retry_on"] == ["tasks.errors.RetryableJobError"]
    assert echo["time_limits"] == {"soft_seconds": 30, "hard_seconds": 60}
    assert echo["default_quota"] == {"max_active": 100, "max_per_hour": 1000}
    assert echo["command"] == []


def test_echo_payload_schema_requires_message(job_types):
    schema = job_types["echo"]["payload_schema"]

    assert schema["type"] == "object"
    assert schema["required"] == ["message"]
    assert schema["properties"]["message"]["type"] == "string"
    assert schema["properties"]["message"]["maxLength"] == 4096
    assert schema["properties"]["fail_times"]["type"] == "integer"
    assert schema["properties"]["fail_times"]["default"] == 0
    assert schema["additionalProperties"] is False


def test_nested_payload_schemas_are_inlined(job_types):
    schema = job_types["eval-run"]["payload_schema"]

    case = schema["properties"]["cases"]["items"]
    assert set(case["required"]) == {"id", "expected", "predicted"}
    assert "$ref" not in str(schema)


def test_command_type_entry_shows_its_argv_and_payload(job_types):
    lines = job_types["py-lines"]

    assert lines["kind"] == "command"
    assert lines["command"][0] == "python3"
    assert lines["command"][-2:] == ["{count}", "{text}"]
    assert set(lines["payload_schema"]["required"]) == {"count", "text"}
    assert lines["payload_schema"]["properties"]["count"]["type"] == "integer"
    assert lines["retry_policy"]["max_retries"] == 0
