"""Reading a child process's one-JSON-object-per-line protocol with a deadline (the child and
memory runners share it)."""

from __future__ import annotations

import os
import selectors
import time


class NoLine(Exception):
    """No full line came: ``reason`` is "timeout" or "eof" (the child closed its stdout)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_line(stdout, buf: bytes, timeout_s: float) -> tuple[bytes, bytes]:
    """(line, rest of the buffer) from ``stdout`` within ``timeout_s``; raises NoLine."""
    deadline = time.monotonic() + timeout_s
    sel = selectors.DefaultSelector()
    sel.register(stdout, selectors.EVENT_READ)
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise NoLine("timeout")
            chunk = os.read(stdout.fileno(), 65536)
            if not chunk:
                raise NoLine("eof")
            buf += chunk
    finally:
        sel.close()
    line, rest = buf.split(b"\n", 1)
    return line, rest
