"""Artifact tests run twice: on a local folder store and on a real S3-compatible server."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import pytest

from tests.api.conftest import expect_error  # noqa: F401 - the shared envelope check
from tests.harness import S3Server

S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1"}
BUCKET = "taskplane-test"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server with one bucket, started for the session; its endpoint URL."""
    import boto3

    saved = {name: os.environ.get(name) for name in S3_ENV}
    os.environ.update(S3_ENV)
    server = S3Server(tmp_path_factory.mktemp("s3"))
    boto3.client("s3", endpoint_url=server.url).create_bucket(Bucket=BUCKET)
    yield server.url
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(params=["local", "s3"])
def storage_url(request, tmp_path):
    """The store of this test: a fresh local folder, or a fresh prefix of the S3 bucket."""
    if request.param == "local":
        return f"file://{tmp_path / 'objects'}"
    endpoint = request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/{uuid.uuid4().hex}?endpoint_url={endpoint}"


@pytest.fixture
def app(app_factory, storage_url):
    """A fresh app on this test's store."""
    return app_factory(storage_url=storage_url)


@pytest.fixture
def publisher(caller):
    """A publisher of this test's tenant: may write artifacts."""
    return caller("publisher", actor="pat")


@pytest.fixture
def viewer(caller):
    """A viewer of this test's tenant: reads only."""
    return caller("viewer", actor="vic")


def b64(data: bytes) -> str:
    """`data` as base64 text."""
    return base64.b64encode(data).decode()


def sha256(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def make_artifact(publisher):
    """`make_artifact(content=b"hello", **fields)`: POST /artifacts; the created artifact."""

    def make(content: bytes | None = b"hello", owner=None, **fields) -> dict:
        body = {"name": "report.txt", "type": "report", **fields}
        if content is not None:
            body["content"] = b64(content)
        response = (owner or publisher).post("/artifacts", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def stored_keys():
    """`stored_keys()`: every key the current store holds (local folder or bucket)."""
    from app.services import artifacts
    from app.storage import LocalStore

    def keys() -> set[str]:
        store = artifacts.store()
        if isinstance(store, LocalStore):
            return {str(p.relative_to(store.root)) for p in store.root.rglob("*")
                    if p.is_file()}
        listing = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix + "/")
        return {item["Key"][len(store.prefix) + 1:] for item in listing.get("Contents", [])}

    return keys
