"""The local object store on its own: content addressing, ranges, limits, atomic writes."""

from __future__ import annotations

import hashlib
import os

import pytest

from app.storage import BackgroundHash, LocalStore, TooLarge, key_for, open_store


def test_put_read_and_ranges(tmp_path):
    store = LocalStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 5)
    stored = store.put(data[i:i + 65536] for i in range(0, len(data), 65536))
    hexdigest = hashlib.sha256(data).hexdigest()
    assert stored.digest == f"sha256:{hexdigest}" and stored.size == len(data)
    assert stored.key == key_for(hexdigest) == f"sha256/{hexdigest[:2]}/{hexdigest}"
    assert b"".join(store.read(stored.key)) == data
    assert b"".join(store.read(stored.key, 1_000_000, 10)) == data[1_000_000:1_000_010]
    assert store.exists(stored.key)
    store.delete(stored.key)
    store.delete(stored.key)  # already gone: no error
    assert not store.exists(stored.key)


def test_same_bytes_one_object_and_no_temp_left(tmp_path):
    store = LocalStore(tmp_path)
    first, second = store.put([b"same"]), store.put([b"sa", b"me"])
    assert first == second
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [tmp_path / first.key]


def test_over_the_limit_stores_nothing(tmp_path):
    store = LocalStore(tmp_path)
    with pytest.raises(TooLarge):
        store.put([b"x" * 600, b"y" * 600], limit=1000)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_keys_never_leave_the_root(tmp_path):
    store = LocalStore(tmp_path / "objects")
    with pytest.raises(ValueError):
        store.exists("../outside")


def test_background_hash_matches_hashlib():
    chunks = [os.urandom(n) for n in (0, 1, 2047, 2048, 65536, 1 << 20)]
    hasher = BackgroundHash(depth=2)
    for chunk in chunks:
        hasher.update(chunk)
    assert hasher.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_storage_urls(tmp_path):
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)
    with pytest.raises(ValueError):
        open_store("ftp://somewhere")
