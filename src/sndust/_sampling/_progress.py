"""A dependency-free progress bar, updated between batches (never inside jit)."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """One line per phase: steps done, iterations per second (per chain), mean step size
    and divergences so far. Redrawn in place on a terminal; on a pipe or log file, one
    line at most every ``interval`` seconds and at the end of each phase."""

    def __init__(self, enabled: bool, label: str, stream=None, interval: float = 10.0):
        self.enabled = enabled
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self._last = 0.0
        self._phase = None

    def start(self, phase: str, done: int, total: int) -> None:
        self._phase, self._t0, self._done0 = phase, time.perf_counter(), done

    def note(self, text: str) -> None:
        """A line of its own (called after a phase's last update, which ended its line)."""
        if self.enabled:
            self.stream.write(f"{self.label}: {text}\n")
            self.stream.flush()

    def update(self, done: int, total: int, step_size: float, divergences: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = (done - self._done0) / max(now - self._t0, 1e-9)
        width = 24
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        text = (
            f"{self.label} {self._phase:8s} [{bar}] {done}/{total} "
            f"{rate:7.1f} it/s  step {step_size:.3g}  divergences {divergences}"
        )
        final = done >= total
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
            self.stream.flush()
        elif final or now - self._last >= self.interval:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last = now
