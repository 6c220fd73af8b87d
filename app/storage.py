"""Object stores for artifact bytes: a local folder or an S3-compatible bucket.

Both stores are content-addressed: an object's key is derived from the SHA-256 of its
bytes and nothing else, so names a user sends never become paths or keys, and the
same bytes are stored once. Bytes are written as they arrive (a temp file or a temp
object first, then moved under their digest), never held whole in memory.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

CHUNK = 1024 * 1024  # the block bytes are read, written, hashed and sent in, everywhere
DIGEST_PREFIX = "sha256:"


class TooLarge(Exception):
    """The bytes offered went over the limit given to `put`; nothing was stored."""

    def __init__(self, limit: int):
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class StoreFull(Exception):
    """The store has no room for the bytes offered (its disk or quota is full); nothing stored."""


class ObjectMissing(Exception):
    """No object is stored under the key asked for (raised before any byte is read)."""


FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


@dataclasses.dataclass(frozen=True)
class StoredObject:
    """What `put` stored: its key, digest (`sha256:<hex>`) and size in bytes."""

    key: str
    digest: str
    size: int


def key_for(hexdigest: str) -> str:
    """The store key of the bytes whose SHA-256 is `hexdigest`."""
    return f"sha256/{hexdigest[:2]}/{hexdigest}"


class BackgroundHash:
    """SHA-256 computed in its own thread while the caller writes (hashlib drops the GIL).

    At most `depth` chunks wait, so memory stays bounded whatever the upload's size.
    """

    def __init__(self, depth: int = 8):
        self._hasher = hashlib.sha256()
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="taskplane-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hasher.update(chunk)

    def update(self, chunk: bytes) -> None:
        """Hash `chunk` after the ones before it."""
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        """The digest of everything given (waits for the thread; call once, at the end)."""
        self.close()
        return self._hasher.hexdigest()

    def close(self) -> None:
        """Stop the thread (also after a failed upload)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def _limited(chunks: Iterable[bytes], limit: int | None, hasher) -> Iterator[bytes]:
    """Yield `chunks`, hashing them, and raise `TooLarge` past `limit` bytes."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if limit is not None and total > limit:
            raise TooLarge(limit)
        hasher.update(chunk)
        yield chunk


class ObjectStore:
    """The small interface every store implements."""

    url: str

    def put(self, chunks: Iterable[bytes], limit: int | None = None, hint: int | None = None,
            before_landing=None) -> StoredObject:
        """Store the bytes of `chunks` under their digest; `TooLarge` past `limit` bytes.

        `hint` is the size announced, if any (`StoreFull` at once when it cannot fit);
        `before_landing(key)` is called once the bytes are complete, before they appear
        under `key`: what `release()` must not race with is taken there.
        """
        raise NotImplementedError

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The object's bytes from `start`, `length` of them (all when None), in chunks.

        `ObjectMissing` when there is no such object, before any byte is read.
        """
        raise NotImplementedError

    def open_file(self, key: str):
        """A local file object of the object, for zero-copy serving; None when not local.

        `ObjectMissing` when there is no such object.
        """
        return None

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove the object under `key` (no error when it is already gone)."""
        raise NotImplementedError

    def check(self) -> str:
        """Raise when the store cannot be used (or is full); else a short description of it."""
        raise NotImplementedError

    def sweep_temp(self, max_age: float) -> int:
        """Remove temp objects of uploads untouched for `max_age` seconds; returns how many.

        A bucket does this with a lifecycle rule (expire `tmp/`, abort incomplete
        multipart uploads), which also sees the parts a listing does not: nothing here.
        """
        return 0


class LocalStore(ObjectStore):
    """A folder: objects under `sha256/ab/<hex>`, written to `tmp/` then renamed.

    `min_free` bytes of the disk are kept free: an upload that would go below them is
    refused (`StoreFull`) before it is read, and `check()` reports the store full when
    the disk has no more than that.
    """

    def __init__(self, root: str | Path, min_free: int = 0):
        self.root = Path(root).resolve()
        self.url = f"file://{self.root}"
        self.min_free = min_free
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    def free_bytes(self) -> int:
        """Bytes free on the store's disk for us."""
        return shutil.disk_usage(self.root).free

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:  # keys are ours, but never trust a path
            raise ValueError(f"key outside the store: {key!r}")
        return path

    def put(self, chunks: Iterable[bytes], limit: int | None = None, hint: int | None = None,
            before_landing=None) -> StoredObject:
        if self.free_bytes() - (hint or 0) < self.min_free:
            raise StoreFull(f"under {self.min_free} bytes would be left free")
        try:
            return self._put(chunks, limit, before_landing)
        except OSError as exc:
            if exc.errno in FULL_ERRNOS:
                raise StoreFull(str(exc)) from exc
            raise

    def _put(self, chunks, limit, before_landing) -> StoredObject:
        hasher = BackgroundHash()
        fd, temp = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            size = 0
            with os.fdopen(fd, "wb") as handle:
                for chunk in _limited(chunks, limit, hasher):
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            hexdigest = hasher.hexdigest()
            key = key_for(hexdigest)
            if before_landing is not None:
                before_landing(key)
            final = self._path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, final)  # atomic; identical bytes simply land on themselves
        except BaseException:
            hasher.close()
            Path(temp).unlink(missing_ok=True)
            raise
        return StoredObject(key, DIGEST_PREFIX + hexdigest, size)

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        return self._chunks(self.open_file(key), start, length)  # opened now: missing fails here

    @staticmethod
    def _chunks(handle, start: int, length: int | None) -> Iterator[bytes]:
        with handle:
            handle.seek(start)
            left = length
            while left is None or left > 0:
                chunk = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def open_file(self, key: str):
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> str:
        if not os.access(self.root / "tmp", os.W_OK):
            raise OSError(f"{self.root} is not writable")
        free = self.free_bytes()
        if free <= self.min_free:  # with no reserve, a disk with nothing free is full too
            raise StoreFull(f"{free} bytes free, at or under the reserve of {self.min_free}")
        return f"folder {self.root}, {free} bytes free"

    def sweep_temp(self, max_age: float) -> int:
        cutoff, removed = time.time() - max_age, 0
        for path in (self.root / "tmp").iterdir():
            try:
                if path.stat().st_mtime < cutoff:  # an upload in progress keeps writing
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # finished or swept by another process meanwhile
                continue
        return removed


class _ChunkReader:
    """A read-only file object over an iterator of chunks (what boto3's uploads take)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


def _missing(exc) -> bool:
    """Whether a botocore `ClientError` says the object is not there."""
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3Store(ObjectStore):
    """An S3-compatible bucket: `s3://bucket/prefix?endpoint_url=...&region=...`.

    Credentials come from the usual AWS variables. An upload goes to a temp key
    (multipart, as it arrives), then is copied under its digest and the temp removed.
    """

    def __init__(self, url: str):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        parsed = urlparse(url)
        options = {name: values[-1] for name, values in parse_qs(parsed.query).items()}
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.client = boto3.client("s3", endpoint_url=options.get("endpoint_url"),
                                   region_name=options.get("region"),
                                   config=Config(connect_timeout=5, read_timeout=60,
                                                 retries={"mode": "standard",
                                                          "max_attempts": 3}))
        self.transfer = TransferConfig(multipart_chunksize=8 * CHUNK, max_concurrency=2)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, chunks: Iterable[bytes], limit: int | None = None, hint: int | None = None,
            before_landing=None) -> StoredObject:
        hasher = hashlib.sha256()
        counted = _limited(chunks, limit, hasher)
        size = 0

        def measured():
            nonlocal size
            for chunk in counted:
                size += len(chunk)
                yield chunk

        temp = self._key(f"tmp/{uuid.uuid4().hex}")
        try:
            self.client.upload_fileobj(_ChunkReader(measured()), self.bucket, temp,
                                       Config=self.transfer)
            key = key_for(hasher.hexdigest())
            if before_landing is not None:
                before_landing(key)
            self.client.copy({"Bucket": self.bucket, "Key": temp}, self.bucket,
                             self._key(key), Config=self.transfer)
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=temp)
        return StoredObject(key, DIGEST_PREFIX + hasher.hexdigest(), size)

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        if length == 0:
            return iter(())
        extra = {}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            extra["Range"] = f"bytes={start}-{end}"
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **extra)["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise ObjectMissing(key) from exc
            raise
        return body.iter_chunks(CHUNK)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def check(self) -> str:
        self.client.head_bucket(Bucket=self.bucket)
        return f"bucket {self.bucket}"


def open_store(url: str, min_free: int = 0) -> ObjectStore:
    """The store a `TASKPLANE_STORAGE_URL` names: `file://<path>` or `s3://bucket/prefix`.

    `min_free`: the bytes a local store keeps free on its disk.
    """
    if url.startswith("file://"):
        return LocalStore(url[len("file://"):], min_free)
    if url.startswith("s3://"):
        return S3Store(url)
    raise ValueError(f"unsupported storage URL {url!r}: use file://<path> or s3://bucket/prefix")
