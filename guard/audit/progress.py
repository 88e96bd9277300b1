"""Progress on a terminal only: one self-overwriting stderr line, cleared before output."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TtyProgress:
    """Callable as ``(phase, done, total)``; silent unless ``stream`` is a terminal and the
    work has taken longer than ``delay`` seconds (a warm audit finishes before it shows)."""

    def __init__(self, stream: TextIO | None = None, delay: float = 0.3) -> None:
        self.stream = stream or sys.stderr
        self.active = self.stream.isatty()
        self.start = time.monotonic()
        self.delay = delay
        self.shown = False
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.active:
            return
        now = time.monotonic()
        if now - self.start < self.delay or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        self.stream.write(f"\r\x1b[Kguard: {phase} {done:,}/{total:,}")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
