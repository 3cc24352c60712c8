"""Plain progress lines for long jobs: readable on a console and in a log file alike.

    progress = Progress("train eps", total=250)
    progress.update(step, loss=0.031)       # prints at most every `interval` seconds, and at the end

prints ``[train eps] 120/250 (48%)  loss 0.031  elapsed 1m05s  ETA 1m10s`` to stderr, flushed, so a
Snakemake rule that tees its output shows it live while the log file keeps the same lines.
"""
from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    """``done/total`` with elapsed time and the ETA extrapolated from the rate since the start."""

    def __init__(self, label: str, total: int, initial: int = 0, interval: float = 10.0, enabled: bool = True,
                 stream=None):
        self.label, self.total, self.initial, self.interval, self.enabled = label, total, initial, interval, enabled
        self.stream = stream or sys.stderr
        self.start = self.last = time.perf_counter()

    def update(self, done: int, **values) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < self.interval and done < self.total):
            return
        self.last = now
        elapsed = now - self.start
        rate = (done - self.initial) / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {_clock((self.total - done) / rate)}" if rate > 0 and done < self.total else "done"
        shown = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
        percent = 100 * done / max(self.total, 1)
        print(f"[{self.label}] {done}/{self.total} ({percent:.0f}%)  {shown}  elapsed {_clock(elapsed)}  {eta}".replace("    ", "  "),
              file=self.stream, flush=True)


__all__ = ["Progress"]
