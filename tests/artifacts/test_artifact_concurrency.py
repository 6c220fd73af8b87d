"""Concurrent updates of one artifact: each lands or gets 412, none is lost."""

from __future__ import annotations

import threading

from tests.artifacts.conftest import b64

THREADS, ROUNDS = 6, 4


def test_concurrent_if_match_updates_lose_nothing(app, caller, make_artifact):
    artifact = make_artifact(b"v0")
    path = f"/artifacts/{artifact['id']}"
    outcomes: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        owner = caller("publisher", actor=f"w{n}")
        owner.client = app.test_client()  # one client per thread
        start.wait()
        for r in range(ROUNDS):
            tag = owner.get(path).headers["ETag"]
            response = owner.put(path, headers={"If-Match": tag},
                                 json={"content": b64(f"w{n}-r{r}".encode()),
                                       "metadata": {"writer": n, "round": r}})
            with lock:
                outcomes.append(response.status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes) <= {200, 412} and len(outcomes) == THREADS * ROUNDS
    landed = outcomes.count(200)
    assert landed >= 1
    final = caller("viewer").get(path).get_json()
    versions = caller("viewer").get(f"{path}/versions").get_json()["items"]
    assert final["version"] == 1 + landed == len(versions)
    assert [v["version"] for v in versions] == list(range(landed + 1, 0, -1))
    body = caller("viewer").get(f"{path}/download").data
    meta = final["metadata"]
    assert body == f"w{meta['writer']}-r{meta['round']}".encode()  # content and metadata agree


def test_bytes_uploaded_as_their_last_reference_is_released_are_kept(app, caller, make_artifact):
    from app.services import artifacts

    data = f"shared bytes {threading.get_ident()} {id(app)}".encode()
    old, newer = make_artifact(data), make_artifact(None)
    store = artifacts.store()
    counted, uploaded = threading.Event(), threading.Event()
    delete = store.delete

    def delete_after_a_pause(key):  # release() has counted no reference to `key`
        counted.set()
        uploaded.wait(3)  # an upload not kept out by the key's lock lands meanwhile
        delete(key)

    def client_of(owner):
        owner.client = app.test_client()  # one client per thread
        return owner

    remover, uploader = client_of(caller("publisher")), client_of(caller("publisher"))
    answers = {}

    def remove():
        answers["delete"] = remover.delete(f"/artifacts/{old['id']}").status_code

    def upload():
        answers["upload"] = uploader.put(f"/artifacts/{newer['id']}",
                                         json={"content": b64(data)}).status_code
        uploaded.set()

    store.delete = delete_after_a_pause
    try:
        removing = threading.Thread(target=remove)
        removing.start()
        assert counted.wait(30)
        uploading = threading.Thread(target=upload)
        uploading.start()
        removing.join(60)
        uploading.join(60)
    finally:
        del store.delete
    assert answers == {"delete": 204, "upload": 200}
    download = caller("viewer").get(f"/artifacts/{newer['id']}/download")
    assert download.status_code == 200 and download.data == data
