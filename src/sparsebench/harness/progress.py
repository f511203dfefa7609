"""Progress of a run: a tqdm bar (case, count, elapsed, ETA) on a terminal, and one plain line
per finished case when the output is a log file or a CI log (no carriage returns there)."""

from __future__ import annotations

import sys
import time
from typing import IO


class Progress:
    """The ``progress(i, n, case)`` callback the runs call before case i, and with case None at
    the end."""

    def __init__(self, stream: IO[str] | None = None, *, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._bar = None
        self._last = None  # (index, case, start time) of the case running now
        self._t0 = time.monotonic()

    def __call__(self, i: int, n: int, case) -> None:
        now = time.monotonic()
        if self.tty:
            self._tty(i, n, case)
        elif self._last is not None:
            j, prev, start = self._last
            self.stream.write(f"[{j + 1}/{n}] {getattr(prev, 'id', prev)} done in {now - start:.1f} s "
                              f"(elapsed {now - self._t0:.0f} s)\n")
            self.stream.flush()
        self._last = (i, case, now) if case is not None else None

    def _tty(self, i: int, n: int, case) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=n, file=self.stream, unit="case", dynamic_ncols=True)
        self._bar.update(i - self._bar.n)
        if case is None:
            self._bar.close()
            self._bar = None
        else:
            self._bar.set_description_str(getattr(case, "id", str(case))[:60])


def progress(quiet: bool = False) -> Progress | None:
    """The callback a command hands its run: None with --quiet."""
    return None if quiet else Progress()
