"""Names are labels: nothing a caller sends becomes a path in the store or in a zip."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.artifact_bundles import archive_name

HOSTILE = ["../../etc/passwd", "/etc/passwd", "..", "%2e%2e/%2e%2e/escape", "a/../../b",
           "C:\\Windows\\evil", "./.hidden", "sha256/00/victim"]


def test_hostile_names_touch_nothing_outside_the_store(tmp_path, storage_url, publisher,
                                                       make_artifact, stored_keys):
    objects = tmp_path / "objects"

    def outside_the_store() -> set[Path]:
        return {p for p in tmp_path.rglob("*") if objects not in (p, *p.parents)}

    outside = outside_the_store()
    made = [make_artifact(f"bytes of {name}".encode(), name=name) for name in HOSTILE]
    for artifact, name in zip(made, HOSTILE, strict=True):
        assert artifact["name"] == name
        shown = publisher.get(f"/artifacts?name={name.replace('%', '%25')}").get_json()
        assert [a["id"] for a in shown["items"]] == [artifact["id"]]
        assert publisher.get(f"/artifacts/{artifact['id']}/download").data == (
            f"bytes of {name}".encode())
    keys = stored_keys()
    assert keys and all(k.startswith("sha256/") and len(k.split("/")[2]) == 64 for k in keys)
    assert outside_the_store() == outside
    assert not Path("/etc/passwd").read_text().startswith("bytes of")


def test_nul_in_a_name_is_refused(publisher, expect_error):
    expect_error(publisher.post("/artifacts", json={"name": "a\x00/../b", "type": "t"}),
                 422, "validation_failed")


@pytest.mark.parametrize("name, member", [
    ("../../etc/passwd", "etc/passwd"), ("/abs/path.txt", "abs/path.txt"), ("..", "artifact"),
    ("a/./b/../c", "a/b/c"), ("x\\..\\y", "x/y"), ("plain.txt", "plain.txt")])
def test_archive_names_stay_inside_the_archive(name, member):
    assert archive_name(name, set()) == member


def test_archive_names_are_unique():
    taken: set[str] = set()
    assert [archive_name("r.txt", taken) for _ in range(3)] == ["r.txt", "r (2).txt",
                                                               "r (3).txt"]
