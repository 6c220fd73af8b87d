"""`make test`'s pytest: one process per database of the suite, side by side.

Each pass names its database in `TASKPLANE_TEST_PASS` and starts its own redis-server,
worker and temporary folders (tests/conftest.py), so the passes share nothing but the
machine; the tests that use no database run in the first pass only. Every line a pass
prints comes out prefixed with its name as it is printed; the exit status is non-zero
when any pass failed. Arguments are handed to each pytest.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
import time

from tests.harness import suite_databases

SUMMARY = re.compile(r"^=*\s*(\d+ \w+(?:, \d+ \w+)*) in [\d.]+s")  # pytest's closing line
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")


def _relay(name: str, stream, lock: threading.Lock, totals: collections.Counter) -> None:
    """Print the pass's lines with its name; add its closing summary's counts to `totals`."""
    for line in stream:
        with lock:
            sys.stdout.write(f"[{name}] {line}")
            sys.stdout.flush()
        summary = SUMMARY.match(line.strip())
        if summary:
            for number, word in COUNT.findall(summary.group(1)):
                totals[word.rstrip("s") if word.startswith("error") else word] += int(number)


def run(args: list[str]) -> int:
    """Run pytest once per database at the same time; 0, or the first failed pass's status."""
    lock, started = threading.Lock(), time.monotonic()
    passes, relays, totals = {}, [], collections.Counter()
    for name in suite_databases():
        passes[name] = subprocess.Popen(
            [sys.executable, "-m", "pytest", *args], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
            env=dict(os.environ, TASKPLANE_TEST_PASS=name, PYTHONUNBUFFERED="1"))
        relays.append(threading.Thread(target=_relay,
                                       args=(name, passes[name].stdout, lock, totals)))
        relays[-1].start()
    try:
        codes = {name: proc.wait() for name, proc in passes.items()}
    except KeyboardInterrupt:  # Ctrl-C reached every pass too; let them stop their processes
        codes = {name: proc.wait() for name, proc in passes.items()}
    for relay in relays:
        relay.join()
    for name, code in codes.items():
        print(f"{name} pass: {'passed' if code == 0 else f'failed (exit {code})'}")
    print(f"all passes: {time.monotonic() - started:.0f} s")
    # The passes' closing counts in one plain line: N passed, N failed, N skipped.
    print(f"passes: {totals['passed']} passed, {totals['failed'] + totals['error']} failed, "
          f"{totals['skipped']} skipped")
    failed = next((code for code in codes.values() if code), 0)
    return failed if failed > 0 else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
