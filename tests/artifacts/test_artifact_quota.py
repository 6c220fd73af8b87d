"""The tenant's artifact storage limit: over it is 429 `quota_exceeded`, nothing stored."""

from __future__ import annotations

import threading

from tests.artifacts.conftest import b64

THREADS = 16  # each uploads 1,000 bytes against a limit of 10,000


def test_storage_limit(app_factory, storage_url, caller, tenant, expect_error, stored_keys):
    app_factory(storage_url=storage_url, artifact_quota_bytes=10)
    owner = caller("publisher")
    first = owner.post("/artifacts", json={"name": "a", "type": "t", "content": b64(b"12345678")})
    assert first.status_code == 201
    keys = stored_keys()
    error = expect_error(owner.post("/artifacts", json={"name": "b", "type": "t",
                                                        "content": b64(b"abcde")}),
                         429, "quota_exceeded")
    assert error["details"] == {"limit": 10, "usage": 8, "requested": 5}
    streamed = owner.put(f"/artifacts/{first.get_json()['id']}/content", data=b"0123456789")
    assert expect_error(streamed, 429, "quota_exceeded")["details"]["usage"] == 8
    assert [a["name"] for a in owner.get("/artifacts").get_json()["items"]] == ["a"]
    assert {k for k in stored_keys() if not k.startswith("tmp/")} == keys
    other = caller("publisher", tenant_=f"{tenant}-other")  # the limit is per tenant
    assert other.post("/artifacts", json={"name": "b", "type": "t",
                                          "content": b64(b"abcde")}).status_code == 201


def test_zero_means_unlimited(app_factory, storage_url, caller):
    app_factory(storage_url=storage_url, artifact_quota_bytes=0)
    owner = caller("publisher")
    for n in range(3):
        body = {"name": f"a{n}", "type": "t", "content": b64(b"x" * 100_000)}
        assert owner.post("/artifacts", json=body).status_code == 201


def test_the_tenants_override_governs_uploads_and_quotas_show_the_usage(
        app_factory, storage_url, caller, expect_error):
    app_factory(storage_url=storage_url, artifact_quota_bytes=0)
    owner, admin = caller("publisher"), caller("admin", actor="ada")
    assert owner.post("/artifacts", json={"name": "a", "type": "t",
                                          "content": b64(b"x" * 6)}).status_code == 201
    assert admin.put(f"/quotas/{admin.headers['X-Tenant']}",
                     json={"max_artifact_bytes": 10}).status_code == 200

    error = expect_error(owner.post("/artifacts", json={"name": "b", "type": "t",
                                                        "content": b64(b"y" * 5)}),
                         429, "quota_exceeded")

    assert error["details"] == {"limit": 10, "usage": 6, "requested": 5}
    assert owner.get("/quotas").get_json()["storage"] == {
        "max_artifact_bytes": 10, "used_bytes": 6, "percent": 60.0}
    assert admin.put(f"/quotas/{admin.headers['X-Tenant']}",
                     json={"max_artifact_bytes": None}).status_code == 200
    assert owner.post("/artifacts", json={"name": "b", "type": "t",
                                          "content": b64(b"y" * 5)}).status_code == 201


def test_concurrent_uploads_never_pass_the_storage_limit(app_factory, storage_url, caller):
    app = app_factory(storage_url=storage_url, artifact_quota_bytes=10 * 1000)
    owner = caller("publisher")
    outcomes: list[int] = []
    start = threading.Barrier(THREADS)

    def upload(n: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post("/artifacts", headers=owner.headers, json={
            "name": f"a{n}", "type": "t", "content": b64(bytes([n]) * 1000)})
        outcomes.append(response.status_code)

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [201] * 10 + [429] * (THREADS - 10)
    assert owner.get("/quotas").get_json()["storage"]["used_bytes"] == 10 * 1000
    assert len(owner.get("/artifacts", query_string={"limit": 100}).get_json()["items"]) == 10
