"""`Idempotency-Key` on `POST /jobs`: one job and one message per key and tenant."""

from __future__ import annotations

import threading

import pytest

BODY = {"job_type": "echo", "payload": {"message": "once"}, "project": "proj"}


def submit(owner, key: str, body: dict = BODY):
    """POST /jobs with an Idempotency-Key."""
    return owner.post("/jobs", json=body, headers={"Idempotency-Key": key})


def listed_ids(owner) -> list[str]:
    """Ids of every job the owner's tenant has."""
    return [job["id"] for job in owner.get("/jobs").get_json()["items"]]


def test_same_key_and_body_replays_the_first_job(caller, published):
    alice = caller()
    first = submit(alice, "deploy-1")

    again = submit(alice, "deploy-1")

    assert first.status_code == again.status_code == 202
    job_id = first.get_json()["id"]
    assert again.get_json()["id"] == job_id
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"] == f"/jobs/{job_id}"
    assert listed_ids(alice) == [job_id]
    assert published == [job_id]  # one message: task id = job id


def test_replayed_job_runs_once(worker, caller):
    alice = caller()
    job_id = submit(alice, "deploy-2").get_json()["id"]
    assert submit(alice, "deploy-2").get_json()["id"] == job_id

    job = alice.wait_status(job_id, "completed")

    assert job["attempts"] == 1
    assert [t["status"] for t in job["timeline"]] == ["queued", "running", "completed"]


def test_same_key_with_another_body_is_409_and_changes_nothing(caller, expect_error, published):
    alice = caller()
    job_id = submit(alice, "deploy-3").get_json()["id"]

    response = submit(alice, "deploy-3", dict(BODY, payload={"message": "twice"}))

    error = expect_error(response, 409, "conflict")
    assert error["details"] == {"idempotency_key": "deploy-3", "job_id": job_id}
    assert listed_ids(alice) == [job_id]
    assert published == [job_id]


@pytest.mark.parametrize("change", [{"project": "other"}, {"priority": 9},
                                    {"job_type": "sleep", "payload": {"seconds": 0}}])
def test_any_changed_field_under_the_same_key_is_409(caller, expect_error, change):
    alice = caller()
    submit(alice, "deploy-4")

    expect_error(submit(alice, "deploy-4", dict(BODY, **change)), 409, "conflict")


def test_keys_are_per_tenant(caller, published):
    alice = caller()
    other = caller(tenant_=f"{alice.headers['X-Tenant']}-other")

    mine = submit(alice, "shared-key")
    theirs = submit(other, "shared-key")

    assert mine.status_code == theirs.status_code == 202
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["tenant"] == other.headers["X-Tenant"]
    assert published == [mine.get_json()["id"], theirs.get_json()["id"]]


def test_without_a_key_each_submit_is_a_new_job(caller):
    alice = caller()

    ids = {alice.post("/jobs", json=BODY).get_json()["id"] for _ in range(2)}

    assert len(ids) == 2


def test_key_longer_than_256_characters_is_422_and_stores_nothing(caller, expect_error):
    alice = caller()

    error = expect_error(submit(alice, "k" * 257), 422, "validation_failed")

    assert "Idempotency-Key" in error["details"]
    assert listed_ids(alice) == []


def test_concurrent_submits_with_one_key_make_one_job(app, caller, published):
    alice = caller()
    clients = [app.test_client() for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    responses = [None] * len(clients)

    def send(index):
        barrier.wait()
        responses[index] = clients[index].post("/jobs", json=BODY, headers={
            **alice.headers, "Idempotency-Key": "race"})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [r.status_code for r in responses] == [202] * len(clients)
    ids = {r.get_json()["id"] for r in responses}
    assert len(ids) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert listed_ids(alice) == list(ids)
    assert published == list(ids)
