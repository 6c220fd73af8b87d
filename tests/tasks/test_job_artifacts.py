"""Job outputs become artifacts: command output files, `ctx.add_artifact`, `artifact-bundle`."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile


def _zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_command_output_files_become_job_artifacts(worker, alice, caller):
    job_id = alice.submit("py-lines", {"count": 1, "text": "all good"},
                          project="site").get_json()["id"]
    job = alice.wait_status(job_id, ("completed", "failed"), timeout=20)
    assert job["status"] == "completed", job["error"]
    [ref] = job["artifacts"]
    assert ref["name"] == "report.txt" and ref["size"] == 8
    assert ref["digest"] == "sha256:" + hashlib.sha256(b"all good").hexdigest()
    listed = alice.get(f"/jobs/{job_id}/artifacts").get_json()["items"]
    assert [a["id"] for a in listed] == [ref["id"]]
    artifact = listed[0]
    assert (artifact["job_id"], artifact["project"], artifact["created_by"]) == (
        job_id, "site", "alice")
    assert artifact["tenant"] == job["tenant"] and artifact["type"] == "output"
    assert alice.get(f"/artifacts/{ref['id']}/download").data == b"all good"
    by_job = alice.get(f"/artifacts?job_id={job_id}").get_json()["items"]
    assert [a["id"] for a in by_job] == [ref["id"]]
    events = caller("operator", actor="olga").get(
        "/events", query_string={"job_id": job_id, "type": "service_artifact_created"})
    assert [e["data"]["artifact_id"] for e in events.get_json()["items"]] == [ref["id"]]


def test_job_artifacts_zip_streams_every_output(worker, alice):
    job_id = alice.submit("py-lines", {"count": 1, "text": "zipped"}).get_json()["id"]
    alice.wait_status(job_id, "completed", timeout=20)
    response = alice.get(f"/jobs/{job_id}/artifacts.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert _zip_members(response.data) == {"report.txt": b"zipped"}


def test_job_artifacts_of_another_tenant_are_404(worker, alice, caller, expect_error):
    job_id = alice.submit("py-lines", {"count": 1, "text": "x"}).get_json()["id"]
    alice.wait_status(job_id, "completed", timeout=20)
    stranger = caller("admin", tenant_="elsewhere")
    expect_error(stranger.get(f"/jobs/{job_id}/artifacts"), 404, "not_found")
    expect_error(stranger.get(f"/jobs/{job_id}/artifacts.zip"), 404, "not_found")


def test_artifact_bundle_zips_chosen_artifacts_into_a_job_artifact(worker, caller, job_logs):
    publisher = caller("publisher", actor="pat")
    made = []
    for name, data in (("notes.txt", b"notes"), ("../../etc/passwd", b"not a passwd"),
                       ("notes.txt", b"second notes"), ("empty", None)):
        body = {"name": name, "type": "doc", "project": "p"}
        if data is not None:
            body["content"] = base64.b64encode(data).decode()
        made.append(publisher.post("/artifacts", json=body).get_json())
    job_id = publisher.submit("artifact-bundle", {"artifact_ids": [a["id"] for a in made],
                                                  "name": "docs.zip"},
                              project="p").get_json()["id"]
    job = publisher.wait_status(job_id, ("completed", "failed"), timeout=30)
    assert job["status"] == "completed", job["error"]
    [ref] = job["artifacts"]  # the Python handler's ctx.add_artifact
    bundle = publisher.get(f"/artifacts/{ref['id']}").get_json()
    assert (bundle["name"], bundle["type"], bundle["job_id"]) == ("docs.zip", "bundle", job_id)
    assert bundle["content_type"] == "application/zip" and bundle["created_by"] == "pat"
    data = publisher.get(f"/artifacts/{ref['id']}/download").data
    assert bundle["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert _zip_members(data) == {"notes.txt": b"notes", "etc/passwd": b"not a passwd",
                                  "notes (2).txt": b"second notes"}
    result = publisher.get(f"/jobs/{job_id}/result").get_json()["result"]
    assert result["artifact"]["id"] == ref["id"] and len(result["members"]) == 3


def test_artifact_bundle_of_unknown_or_foreign_artifacts_fails(worker, caller):
    publisher = caller("publisher", actor="pat")
    foreign = caller("publisher", tenant_="other-tenant").post(
        "/artifacts", json={"name": "theirs", "type": "doc",
                            "content": base64.b64encode(b"secret").decode()}).get_json()
    job_id = publisher.submit("artifact-bundle",
                              {"artifact_ids": [foreign["id"], "missing-id"]}).get_json()["id"]
    job = publisher.wait_status(job_id, ("completed", "failed"), timeout=30)
    assert job["status"] == "failed" and job["attempts"] == 1
    assert foreign["id"] in job["error"]["message"] and "missing-id" in job["error"]["message"]
    assert job["artifacts"] == []
