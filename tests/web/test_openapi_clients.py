"""The OpenAPI document is valid, and a client generated from it by a third party works.

openapi-python-client generates a package from `/openapi.json` served by gunicorn; the
test imports it and submits, waits, uploads and downloads through it against the real
worker. Generation runs offline: it reads the document from a file and runs the ruff
installed beside this Python on its output.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from tests.harness import http_request, wait_until

PACKAGE = "taskplane_openapi"  # not `taskplane_client`: that name is the bindings' own
BIN = Path(sys.executable).parent


def _document(web) -> dict:
    status, body = http_request(web.port, "GET", "/openapi.json")
    assert status == 200
    return json.loads(body)


def test_the_openapi_document_is_valid(web):
    validate(_document(web))  # raises with the first place the document breaks OpenAPI


def test_binary_bodies_are_octet_stream_of_format_binary(web):
    paths = _document(web)["paths"]
    binary = {"schema": {"type": "string", "format": "binary"}}
    upload = paths["/artifacts/{artifact_id}/content"]["put"]["requestBody"]
    assert upload["content"]["application/octet-stream"] == binary
    for path in ("/artifacts/{artifact_id}/download", "/artifacts/signed/{token}",
                 "/jobs/{job_id}/artifacts.zip"):
        assert paths[path]["get"]["responses"]["200"]["content"]["application/octet-stream"] \
            == binary, path


@pytest.fixture
def generated(web, tmp_path):
    """The package openapi-python-client generates from the served document, imported."""
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(_document(web)))
    config = tmp_path / "generator.yml"
    config.write_text(f"package_name_override: {PACKAGE}\nproject_name_override: {PACKAGE}\n")
    done = subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(document), "--meta",
         "none", "--config", str(config), "--output-path", str(tmp_path / PACKAGE)],
        capture_output=True, text=True, timeout=300, check=False,
        env=dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_a_generated_client_submits_waits_uploads_and_downloads(generated, web, worker):
    api = importlib.import_module(f"{PACKAGE}.api.jobs.post_jobs")
    get_job = importlib.import_module(f"{PACKAGE}.api.jobs.get_jobs_job_id")
    create = importlib.import_module(f"{PACKAGE}.api.artifacts.post_artifacts")
    upload = importlib.import_module(f"{PACKAGE}.api.artifacts.put_artifacts_artifact_id_content")
    download = importlib.import_module(
        f"{PACKAGE}.api.artifacts.get_artifacts_artifact_id_download")
    bundle = importlib.import_module(f"{PACKAGE}.api.job_artifacts.get_jobs_job_id_artifacts_zip")
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    client = generated.Client(base_url=web.url, raise_on_unexpected_status=True, headers={
        "X-Actor": "alice", "X-Roles": "publisher", "X-Tenant": f"t-{uuid.uuid4().hex[:10]}"})

    payload = models.JobSubmitPayload.from_dict({"message": "from a generated client"})
    job = api.sync(client=client, body=models.JobSubmit(job_type="echo", project="proj",
                                                         payload=payload))
    assert isinstance(job, models.Job), job
    done = wait_until(lambda: (found := get_job.sync(job.id, client=client)).status == "completed"
                      and found, 60, interval=0.1, message="the job to complete")
    assert done.attempts == 1

    artifact = create.sync(client=client, body=models.ArtifactCreate(name="out.bin", type_="data"))
    assert isinstance(artifact, models.Artifact), artifact
    content = bytes(range(256)) * 64
    uploaded = upload.sync(artifact.id, client=client, body=types.File(
        payload=io.BytesIO(content), file_name="out.bin", mime_type="application/octet-stream"))
    assert isinstance(uploaded, models.Artifact), uploaded
    assert uploaded.size == len(content)
    fetched = download.sync(artifact.id, client=client)
    assert isinstance(fetched, types.File), fetched
    assert fetched.payload.read() == content

    zipped = bundle.sync(job.id, client=client)
    assert isinstance(zipped, types.File), zipped
    assert zipfile.ZipFile(zipped.payload).testzip() is None
