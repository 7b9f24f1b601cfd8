"""Progress of long builds in the log: how many done, the rate and the time left.

Example::

    >>> progress = Progress(1000, "embedded")
    >>> progress(100)   # logs at most every 5 s: "embedded 100/1000 chunks, 50.0 chunks/s, ETA 18 s"
"""
from __future__ import annotations

import logging
import time

log = logging.getLogger("index.build")

EVERY_S = 5.0  # seconds between two progress lines


class Progress:
    """Counts units done and logs done/total, the rate and the ETA, at most every ``every_s`` seconds
    (and once at the end when ``log_done``)."""

    def __init__(self, total: int, what: str, unit: str = "chunks", every_s: float = EVERY_S, log_done: bool = True) -> None:
        self.total, self.what, self.unit, self.every_s, self.log_done = total, what, unit, every_s, log_done
        self.done, self.started = 0, time.perf_counter()
        self.last = self.started

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.every_s or (self.done >= self.total and self.log_done):
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            log.info("%s %d/%d %s, %.1f %s/s, ETA %.0f s", self.what, self.done, self.total, self.unit, rate, self.unit, eta)
