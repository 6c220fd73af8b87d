"""The Python bindings (`taskplane_client`) against the real app over HTTP and a real worker."""

from __future__ import annotations

import datetime as dt
import email.utils
from urllib.parse import parse_qs, urlsplit

import pytest
from taskplane_client import TERMINAL, ApiError, Client, WaitTimeout
from taskplane_client.errors import retry_after

from tests.harness import served


def _client(url: str, tenant: str, roles: str = "operator") -> Client:
    return Client(url, actor="ci", roles=roles, tenant=tenant)


@pytest.fixture
def client(api_url, tenant) -> Client:
    """An operator of this test's tenant."""
    return _client(api_url, tenant)


def test_pages_follow_the_cursor_and_iterate_items_or_whole_pages(client):
    ids = [client.submit("echo", {"message": str(n)}, project="pages")["id"] for n in range(5)]
    listing = client.jobs(project="pages", page_size=2)

    pages = list(listing.pages())
    newest = ids[::-1]
    assert [[job["id"] for job in page["items"]] for page in pages] == [
        newest[:2], newest[2:4], newest[4:]]
    assert all(page["next_cursor"] for page in pages[:-1]) and pages[-1]["next_cursor"] is None
    assert [job["id"] for job in listing] == newest
    assert [job["id"] for job in listing] == newest  # each iteration starts again
    resumed = listing.pages(cursor=pages[0]["next_cursor"])
    assert [job["id"] for page in resumed for job in page["items"]] == newest[2:]


def test_list_filters_reach_the_server_times_as_iso_8601(client):
    job = client.submit("echo", {"message": "filtered"}, project="filters")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert list(client.jobs(project="filters", created_after=later)) == []
    assert [j["id"] for j in client.jobs(project="filters", created_before=later)] == [job["id"]]
    assert list(client.jobs(project="no-such-project")) == []


def test_wait_returns_the_ended_job_and_reports_every_poll(worker, client):
    job = client.submit("echo", {"message": "waited"}, project="wait")
    polls = []
    ended = client.wait(job["id"], timeout=60, interval=0.05, on_update=polls.append)
    assert ended["status"] == "completed" and ended["status"] in TERMINAL
    assert polls and polls[-1] == ended
    assert all(poll["status"] not in TERMINAL for poll in polls[:-1])


def test_wait_past_its_timeout_raises_with_the_job_as_last_seen(worker, client):
    job = client.submit("sleep", {"seconds": 60}, project="wait")
    try:
        with pytest.raises(WaitTimeout) as raised:
            client.wait(job["id"], timeout=0.2, interval=0.05)
        assert isinstance(raised.value, TimeoutError)
        assert raised.value.job["id"] == job["id"]
        assert raised.value.job["status"] in ("queued", "running")
    finally:
        client.cancel(job["id"])
    assert client.wait(job["id"], timeout=60)["status"] == "cancelled"


def test_follow_yields_each_log_line_once_with_its_cursor(worker, client):
    job = client.submit("sleep", {"seconds": 0.2}, project="follow")
    entries = list(client.follow(job["id"]))
    assert client.job(job["id"])["status"] == "completed"
    assert [entry["message"] for entry in entries] == ["sleeping 0.2s", "done"]
    assert entries[0]["id"] < entries[1]["id"]
    assert client.logs(job["id"]) == "".join(f"{e['at']} {e['message']}\n" for e in entries)
    assert list(client.follow(job["id"], since=entries[0]["id"])) == entries[1:]


def test_follow_resumes_from_its_cursor_when_the_server_ends_the_stream(worker, app_factory,
                                                                        tenant):
    with served(app_factory(stream_max_seconds=2)) as url:
        client = _client(url, tenant, roles="viewer")
        follows = []
        client.session.hooks["response"].append(
            lambda response, **_: follows.append(response.request.url)
            if "follow=true" in response.request.url else None)
        job = client.submit("sleep", {"seconds": 5}, project="follow")
        entries = list(client.follow(job["id"]))
    assert [entry["message"] for entry in entries] == ["sleeping 5.0s", "done"]
    sinces = [int(parse_qs(urlsplit(url).query)["since"][0]) for url in follows]
    assert len(sinces) >= 3  # the 5 s job outlived at least two 2 s streams
    assert sinces[0] == 0 and sinces == sorted(sinces)
    assert set(sinces[1:]) <= {entry["id"] for entry in entries}  # each resumed after a line
    assert sinces[-1] == entries[-1]["id"]


def test_an_error_answer_raises_api_error_carrying_the_envelope(client):
    client.session.headers["X-Request-ID"] = "bindings-test-1"
    with pytest.raises(ApiError) as raised:
        client.job("no-such-job")
    error = raised.value
    assert (error.status, error.code, error.request_id) == (404, "not_found", "bindings-test-1")
    assert (error.message, error.details) == ("job not found", {"id": "no-such-job"})
    assert error.retry_after is None
    assert error.body == {"error": {"code": "not_found", "message": "job not found",
                                    "details": {"id": "no-such-job"},
                                    "request_id": "bindings-test-1"}}
    assert str(error) == "404 not_found: job not found"

    with pytest.raises(ApiError) as invalid:
        client.submit("echo", {"message": 1}, project="errors")
    assert (invalid.value.status, invalid.value.code) == (422, "validation_failed")
    assert invalid.value.details == {"payload": {"message": ["Not a valid string."]}}


def test_a_refusal_carries_its_retry_after(api_url, tenant):
    admin = _client(api_url, tenant, roles="admin")
    admin.set_quota(tenant, "echo", max_active=0)
    with pytest.raises(ApiError) as raised:
        admin.submit("echo", {"message": "refused"}, project="quota")
    error = raised.value
    assert (error.status, error.code) == (429, "quota_exceeded")
    assert error.details["quota"] == "max_active"
    assert error.retry_after == float(error.details["retry_after"]) > 0


def test_retry_after_reads_seconds_or_an_http_date():
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: now
    in_an_hour = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert 3000 < retry_after(email.utils.format_datetime(in_an_hour, usegmt=True)) <= 3600
    assert retry_after(None) is None and retry_after("soon") is None


def test_the_terminal_states_are_the_servers():
    from app.models.jobs import TERMINAL as SERVER_TERMINAL

    assert frozenset(SERVER_TERMINAL) == TERMINAL
