"""The shortest path through the platform: submit over HTTP, a real worker runs it."""


def test_echo_job_completes_on_real_worker(worker, caller):
    alice = caller("viewer")
    submitted = alice.submit("echo", {"message": "hello"})
    assert submitted.status_code == 202
    job = alice.wait_status(submitted.get_json()["id"], "completed")
    assert job["attempts"] == 1
    result = alice.get(f"/jobs/{job['id']}/result")
    assert result.get_json()["result"] == {"message": "hello"}
