"""What the benchmarks share: a result row and its table, progress lines, the run folder,
the run's database, and how a run is started and stopped.

The processes a run needs (redis-server, Celery workers, gunicorn, a scratch PostgreSQL
database) come from `tests/harness.py`, as the tests' do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.harness import scratch_postgres

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class Row:
    """One line of a results table: a metric measured on both sides and its bar."""

    metric: str
    unit: str
    bare: float
    taskplane: float
    bar: float | None = None  # ratio taskplane/bare that passes; None = informative only
    higher_is_better: bool = True
    note: str = ""
    load: float = dataclasses.field(default_factory=lambda: os.getloadavg()[0])  # 1-min, at end

    @property
    def ratio(self) -> float:
        """taskplane / bare."""
        return self.taskplane / self.bare if self.bare else math.nan

    @property
    def verdict(self) -> str:
        """PASS, MISS, or '-' for a row without a bar."""
        if self.bar is None:
            return "-"
        ok = self.ratio >= self.bar if self.higher_is_better else self.ratio <= self.bar
        return "PASS" if ok else "MISS"

    @property
    def bar_text(self) -> str:
        """The bar as printed: '>= 0.5x' or '<= 2.0x'."""
        if self.bar is None:
            return "-"
        return f"{'>=' if self.higher_is_better else '<='} {self.bar:g}x"


def print_table(rows: list[Row], baseline: str = "bare", load: bool = True) -> None:
    """The rows as a table on stdout, after a blank line; `load` adds the load-average column."""
    header = (f"{'metric':<28} {'unit':<7} {baseline:>9} {'taskplane':>10} {'ratio':>7} "
              f"{'bar':>8}  {'result':<6}" + (f" {'load':>5}" if load else ""))
    print("\n" + header.rstrip())
    print("-" * len(header.rstrip()))
    for row in rows:
        line = (f"{row.metric:<28} {row.unit:<7} {row.bare:>9,.1f} {row.taskplane:>10,.1f} "
                f"{row.ratio:>6.2f}x {row.bar_text:>8}  {row.verdict:<6}"
                + (f" {row.load:>5.2f}" if load else "")
                + (f"  ({row.note})" if row.note else ""))
        print(line.rstrip())


def log(message: str) -> None:
    """A progress line on stderr (the report itself goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_folder(stack: contextlib.ExitStack, prefix: str, keep: bool = False) -> Path:
    """A fresh temp folder for the run, removed when `stack` closes unless `keep`."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if keep:
        print(f"run folder (kept): {folder}", file=sys.stderr)
    else:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
    return folder


def database_url(stack: contextlib.ExitStack, folder: Path, server: str | None = None,
                 name: str = "taskplane_bench") -> str:
    """The run's database, migrated: a SQLite file in `folder`, or with `server` (a
    PostgreSQL server URL) a scratch database there, dropped when `stack` closes."""
    from app.migrate import upgrade

    url = (stack.enter_context(scratch_postgres(server, name)) if server
           else f"sqlite:///{folder / 'taskplane.db'}")
    upgrade(url)
    return url


def _interrupt(signum, _frame):
    """SIGTERM behaves like Ctrl-C: unwind so every started process is stopped."""
    raise KeyboardInterrupt(f"signal {signum}")


def run_main(main: Callable[[], int]) -> None:
    """Run a benchmark's `main` and exit with its status; SIGTERM and Ctrl-C stop it cleanly."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)
