"""Audit action names, targets and outcomes: the pure rules."""

from __future__ import annotations

import pytest

from app.api.audit.actions import action_name, target_of
from app.services.audit import is_audited, outcome_for_status


@pytest.mark.parametrize("endpoint, rule, method, action", [
    ("jobs.Jobs", "/jobs", "POST", "jobs.submit"),
    ("jobs.Jobs", "/jobs", "GET", "jobs.list"),
    ("jobs.Job", "/jobs/<job_id>", "GET", "jobs.read"),
    ("jobs.Job", "/jobs/<job_id>", "DELETE", "jobs.cancel"),
    ("jobs.JobCancel", "/jobs/<job_id>/cancel", "POST", "jobs.cancel"),
    ("jobs.JobRetry", "/jobs/<job_id>/retry", "POST", "jobs.retry"),
    ("jobs.JobLogs", "/jobs/<job_id>/logs", "GET", "jobs.logs.read"),
    ("artifacts.Artifacts", "/artifacts", "POST", "artifacts.create"),
    ("artifacts.Artifact", "/artifacts/<artifact_id>", "PUT", "artifacts.update"),
    ("artifacts.Artifact", "/artifacts/<artifact_id>", "PATCH", "artifacts.update"),
    ("artifacts.Artifact", "/artifacts/<artifact_id>", "DELETE", "artifacts.delete"),
    ("artifacts.Content", "/artifacts/<artifact_id>/content", "PUT",
     "artifacts.content.update"),
    ("artifacts.Url", "/artifacts/<artifact_id>/download-url", "POST",
     "artifacts.download_url"),
    ("quotas.Quota", "/quotas/<tenant>/<job_type>", "PUT", "quotas.update"),
    ("api_keys.Keys", "/api-keys", "POST", "api_keys.create"),
    ("api_keys.Key", "/api-keys/<key_id>", "DELETE", "api_keys.delete"),
    ("audit.AuditLog", "/audit", "GET", "audit.list"),
    (None, None, "POST", "unrouted"),
])
def test_action_names(endpoint, rule, method, action):
    assert action_name(endpoint, rule, method) == action


def test_target_is_the_urls_ids_else_the_created_id():
    assert target_of({"job_id": "j1"}, created_id="ignored") == "j1"
    assert target_of({"tenant": "acme", "job_type": "echo"}) == "acme/echo"
    assert target_of({}, created_id="new-id") == "new-id"
    assert target_of(None) is None


def test_a_credential_in_the_url_is_never_a_target():
    assert target_of({"artifact_id": "a1", "token": "signed-secret"}) == "a1"
    assert target_of({"signature": "s"}) is None


@pytest.mark.parametrize("status, outcome", [(200, "allowed"), (202, "allowed"),
                                             (204, "allowed"), (304, "allowed"),
                                             (401, "denied"), (403, "denied"), (404, "denied"),
                                             (429, "denied"), (400, "failed"), (409, "failed"),
                                             (413, "failed"), (422, "failed"), (500, "failed"),
                                             (503, "failed")])
def test_outcome_of_each_status(status, outcome):
    assert outcome_for_status(status) == outcome


@pytest.mark.parametrize("method, status, audited", [
    ("POST", 202, True), ("PUT", 200, True), ("PATCH", 422, True), ("DELETE", 204, True),
    ("GET", 200, False), ("HEAD", 200, False), ("GET", 409, False), ("GET", 401, True),
    ("GET", 403, True), ("GET", 404, True), ("GET", 429, True), ("OPTIONS", 200, False),
])
def test_which_calls_are_audited(method, status, audited):
    assert is_audited(method, status) is audited
