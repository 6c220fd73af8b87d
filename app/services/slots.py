"""Slots: how many long requests of one kind a web process serves at once.

A stream (a log follow, an event stream, a `Prefer: wait`) and a transfer (an artifact
upload or download) each hold a thread of the web process for as long as its client
takes. Each kind takes one of the process's slots for that while (`TASKPLANE_STREAM_SLOTS`,
`TASKPLANE_TRANSFER_SLOTS`), and past them is refused at once with 503 and `Retry-After`,
so the web server's threads beyond the slots always remain for every other request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.errors import Unavailable
from app.extensions import runtime

RETRY_AFTER_SECONDS = 5  # what a refused stream or transfer is told to wait before trying again


class Slots:
    """How many requests of one kind this app serves now, capped at its `setting`."""

    def __init__(self, setting: str = "stream_slots", what: str = "streams"):
        self.setting = setting
        self.what = what
        self._lock = threading.Lock()
        self.open = 0

    def acquire(self) -> Callable[[], None]:
        """Take a slot or raise 503 `unavailable`; returns the (idempotent) release."""
        limit = getattr(runtime.settings, self.setting)
        with self._lock:
            if self.open >= limit:
                raise Unavailable(f"this process already serves {limit} {self.what}; "
                                  "retry shortly",
                                  details={f"open_{self.what}": self.open, "limit": limit},
                                  headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            self.open += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self.open -= 1

        return release


def streams() -> Slots:
    """The current app's stream slots (one app per web process: the process's)."""
    return runtime.own("stream_slots", lambda: Slots("stream_slots", "streams"))


def transfers() -> Slots:
    """The current app's transfer slots: artifact uploads and downloads."""
    return runtime.own("transfer_slots", lambda: Slots("transfer_slots", "transfers"))
