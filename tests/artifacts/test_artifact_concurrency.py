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
