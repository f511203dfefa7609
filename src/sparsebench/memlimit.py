"""How much memory this process can still take: the smaller of the kernel's MemAvailable and
the cgroup's headroom (a container's limit), so large allocations are refused with a clear
message before the OOM killer ends the run."""

from __future__ import annotations

import os
from pathlib import Path

UNKNOWN = 1 << 62  # no way to tell (not Linux): nothing is refused


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_headroom() -> int | None:
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((root / "memory.current").read_text().strip()), 0)
    except (OSError, ValueError):
        return None


def available_memory_bytes() -> int:
    vals = [v for v in (_meminfo_available(), _cgroup_headroom()) if v is not None]
    return min(vals) if vals else UNKNOWN
