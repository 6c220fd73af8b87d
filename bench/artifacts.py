"""Artifact upload and download through the API against a plain file copy, in one run.

  upload    PUT /artifacts/{id}/content of an N MiB file (raw body, streamed) to gunicorn
            (the Procfile's config file, 1 worker), stored in the local object store on
            the same disk.
  download  GET /artifacts/{id}/download of it, written to a file on the same disk.
  copy      a plain copy of the same file on the same disk (shutil.copyfile): the bar.
  bare web  the same upload and download against `bench/bare_files.py` (Flask streaming
            the body to a file and back under the same gunicorn, reading the body the
            same way as Taskplane, no hashing, no database): shown for reference, to tell
            the web server's cost from Taskplane's.

The client is curl (`--upload-file`, `--output`). Every side ends when its bytes are
durable in the destination (fsync), as the store's writes are. The web worker's RSS is
sampled every 10 ms during each transfer: its peak growth over the RSS just before
shows that no side holds the file in memory.
Everything (SQLite file, object store, gunicorn) lives in a temp folder on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/artifacts.py` puts only bench/ on the path
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import Row, database_url, log, print_table, run_folder, run_main  # noqa: E402
from tests.harness import Gunicorn, HarnessError, http_request  # noqa: E402

MIB = 1024 * 1024
HEADERS = {"X-Actor": "bench", "X-Roles": "publisher", "X-Tenant": "bench"}
RSS_BAR_MIB = 64


class PeakRss:
    """Samples a process's RSS in a thread; `growth` is the peak over the RSS at start."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.process = psutil.Process(pid)
        self.interval = interval
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        """Peak RSS growth in MiB."""
        return (self.peak - self.start) / MIB


def make_file(path: Path, size: int) -> None:
    """`size` bytes of random-looking data (a random MiB, each copy tagged with its index)."""
    block = bytearray(os.urandom(MIB))
    with path.open("wb") as handle:
        for i in range(size // MIB):
            block[:8] = i.to_bytes(8, "big")
            handle.write(block)
        handle.write(os.urandom(size % MIB))


def fsync_path(path: Path) -> None:
    """Flush `path`'s bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy(source: Path, target: Path) -> float:
    """Seconds for a plain durable copy: shutil.copyfile, then fsync."""
    started = time.perf_counter()
    shutil.copyfile(source, target)
    fsync_path(target)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def curl(*args: str) -> tuple[int, bytes]:
    """Run curl (a C client, as a user would) on 127.0.0.1; (HTTP status, body printed)."""
    headers = [part for name, value in HEADERS.items() for part in ("--header", f"{name}: {value}")]
    done = subprocess.run(["curl", "--silent", "--show-error", "--write-out", "\\n%{http_code}",
                           *headers, *args], capture_output=True, check=False)
    if done.returncode != 0:
        raise HarnessError(f"curl {args}: {done.stderr.decode(errors='replace')}")
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def upload(port: int, path: str, source: Path) -> float:
    """Seconds for a PUT of `source` to `path`, streamed from the file by curl."""
    size = source.stat().st_size
    started = time.perf_counter()
    status, answer = curl("--upload-file", str(source), "--header",
                          "Content-Type: application/octet-stream",
                          f"http://127.0.0.1:{port}{path}")
    elapsed = time.perf_counter() - started
    if status != 200 or json.loads(answer)["size"] != size:
        raise HarnessError(f"upload answered {status}: {answer[:300]!r}")
    return elapsed


def download(port: int, path: str, target: Path, size: int) -> float:
    """Seconds for a GET of `path` written by curl to `target`, then fsync of `target`."""
    started = time.perf_counter()
    status, _ = curl("--output", str(target), f"http://127.0.0.1:{port}{path}")
    fsync_path(target)
    elapsed = time.perf_counter() - started
    received = target.stat().st_size
    target.unlink()
    if status != 200 or received != size:
        raise HarnessError(f"download answered {status} with {received} bytes")
    return elapsed


def run(args, folder: Path, stack: contextlib.ExitStack) -> tuple[list[Row], list[str]]:
    """Start gunicorn on a fresh database and store, then measure every side per round."""
    env = dict(os.environ, TASKPLANE_DATABASE_URL=database_url(stack, folder),
               TASKPLANE_VAR_DIR=str(folder),
               TASKPLANE_STORAGE_URL=f"file://{folder / 'objects'}", PYTHONUNBUFFERED="1",
               TASKPLANE_ARTIFACT_MAX_BYTES=str(args.size_mib * MIB * 2))
    source, target = folder / "source.bin", folder / "target.bin"
    log(f"writing a {args.size_mib} MiB file")
    make_file(source, args.size_mib * MIB)
    size = source.stat().st_size
    times = {"copy": [], "upload": [], "download": [], "bare upload": [],
             "bare download": []}
    rss = {"upload": [], "download": []}
    (folder / "bare").mkdir()
    with Gunicorn("app:create_app()", env, folder / "gunicorn.log", workers=1) as server, \
         Gunicorn("bench.bare_files:app", dict(env, BENCH_FILES_DIR=str(folder / "bare")),
                  folder / "gunicorn-bare.log", workers=1) as bare:
        [worker] = psutil.Process(server.proc.pid).children()
        status, body = http_request(server.port, "POST", "/artifacts",
                                    json.dumps({"name": "big.bin", "type": "bench"}).encode(),
                                    {**HEADERS, "Content-Type": "application/json"})
        if status != 201:
            raise HarnessError(f"POST /artifacts answered {status}: {body[:300]!r}")
        artifact_id = json.loads(body)["id"]
        def bare_web():
            times["bare upload"].append(upload(bare.port, "/files/1", source))
            times["bare download"].append(download(bare.port, "/files/1", target, size))

        def taskplane():
            with PeakRss(worker.pid) as peak:
                times["upload"].append(upload(server.port, f"/artifacts/{artifact_id}/content",
                                              source))
            rss["upload"].append(peak.growth_mib)
            with PeakRss(worker.pid) as peak:
                times["download"].append(download(server.port,
                                                  f"/artifacts/{artifact_id}/download",
                                                  target, size))
            rss["download"].append(peak.growth_mib)

        for round_ in range(1, args.rounds + 1):
            sides = [("copy", lambda: times["copy"].append(copy(source, target))),
                     ("bare web", bare_web), ("taskplane", taskplane)]
            if round_ % 2 == 0:  # alternate the order: no side always follows the same one
                sides.reverse()
            for name, measure in sides:
                log(f"round {round_}/{args.rounds}: {name}")
                measure()
    rate = {side: statistics.median(size / MIB / t for t in values)
            for side, values in times.items()}
    rows = [Row("upload vs copy", "MiB/s", rate["copy"], rate["upload"], bar=0.5),
            Row("download vs copy", "MiB/s", rate["copy"], rate["download"], bar=0.5),
            Row("upload vs bare web", "MiB/s", rate["bare upload"], rate["upload"]),
            Row("download vs bare web", "MiB/s", rate["bare download"], rate["download"])]
    notes = [f"{side}: peak RSS growth of the web worker {max(values):.1f} MiB "
             f"(bar < {RSS_BAR_MIB} MiB: {'PASS' if max(values) < RSS_BAR_MIB else 'MISS'})"
             for side, values in rss.items()]
    notes.append("per round, s: " + "; ".join(
        f"{side} " + ", ".join(f"{t:.2f}" for t in values) for side, values in times.items()))
    return rows, notes


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="file size [default: 1024]")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians shown [3]")
    parser.add_argument("--quick", action="store_true", help="256 MiB, 1 round")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mib, args.rounds = 256, 1
    return args


def main(argv=None) -> int:
    """Run the measurements and print the table; 0 when they ran (even with MISS)."""
    args = parse_args(argv)
    with contextlib.ExitStack() as stack:
        folder = run_folder(stack, "taskplane-bench-artifacts-", args.keep)
        try:
            rows, notes = run(args, folder, stack)
        except HarnessError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    print(f"\nArtifacts through the API vs a plain file copy, same disk, same run "
          f"({args.size_mib} MiB, {os.cpu_count()} cores, gunicorn 1 worker, "
          f"the Procfile's web settings)")
    print_table(rows, baseline="baseline", load=False)
    print("\nnotes: ratio = taskplane / baseline; medians of the rounds.")
    for note in notes:
        print(f"  {note}")
    return 0


if __name__ == "__main__":
    run_main(main)
