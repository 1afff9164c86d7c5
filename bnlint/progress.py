"""A progress bar on stderr (files done / total) for runs that take more than a moment.

Shown only to a person watching: stderr is a terminal, ``TERM`` is not ``dumb`` and no
``CI`` variable is set (CI logs are not terminals, but some runners fake one); and only
once the run has lasted ``DELAY`` seconds, so that a quick run prints nothing but its
report. ``--no-progress`` turns it off, ``--progress`` shows it from the first file
(still only on a terminal). The bar is erased before the report is printed.
"""

from __future__ import annotations

import os
import time
from types import TracebackType
from typing import Literal, TextIO, final

DELAY = 0.5  # seconds before the bar appears
REDRAW = 0.1  # seconds between redraws
WIDTH = 30
Mode = Literal["auto", "always", "never"]


def wanted(stream: TextIO, mode: Mode) -> bool:
    """Should a bar be drawn on ``stream``?"""
    if mode == "never":
        return False
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced
        return False
    if not terminal or os.environ.get("TERM") == "dumb":
        return False
    return mode == "always" or os.environ.get("CI", "").lower() in ("", "0", "false")


@final
class ProgressBar:
    """Counts files done out of ``total``; a context manager that erases the bar on
    exit. ``delay`` is how long the run must last before the bar appears."""

    def __init__(self, stream: TextIO, total: int, delay: float = DELAY) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self._started = time.monotonic()
        self._delay = delay
        self._drawn_at: float | None = None
        self._broken = False

    def __call__(self) -> None:
        """One more file done."""
        self.done += 1
        now = time.monotonic()
        if self._broken or now - self._started < self._delay:
            return
        if self._drawn_at is not None and now - self._drawn_at < REDRAW \
                and self.done < self.total:
            return
        self._drawn_at = now
        self._write(f"\r{self.line()}")

    def line(self) -> str:
        """The bar as it reads now: ``[=====>    ] 12/40 files``."""
        filled = WIDTH * self.done // max(self.total, 1)
        bar = "=" * filled + (">" if filled < WIDTH else "") + " " * (WIDTH - filled - 1)
        return f"[{bar[:WIDTH]}] {self.done}/{self.total} files"

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._drawn_at is not None:
            self._write("\r\033[K")  # erase the line: the report follows

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal: the run goes on without a bar
            self._broken = True
            self._drawn_at = None
