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


# Live float32 tensors of one stage case at once, as multiples of (input + output + dense
# weight): the inputs and their gradients, ours and torch-dense's outputs, the channels_last
# copies of the layout baseline, and the format's caches (at most a dense weight's worth).
CASE_TENSORS = 6


def case_working_set_bytes(shape) -> int:
    """Estimated peak bytes of measuring one stage case of a layer shape (measure.flops shapes)."""
    if hasattr(shape, "cin"):
        x = shape.n * shape.cin * shape.h * shape.w
        y = shape.n * shape.cout * shape.ho * shape.wo
        w = shape.cout * shape.cin * shape.kh * shape.kw
    else:
        x, y = shape.batch * shape.in_features, shape.batch * shape.out_features
        w = shape.in_features * shape.out_features
    return CASE_TENSORS * 4 * (x + y + w)


def refuse_if_too_large(need: int, what: str, fraction: float = 0.8) -> None:
    """MemoryError (before anything is allocated) when ``need`` bytes exceed ``fraction`` of
    what is available."""
    free = available_memory_bytes()
    if need > fraction * free:
        raise MemoryError(f"{what} needs about {need / 2**30:.2f} GiB, more than {fraction:.0%} of the "
                          f"{free / 2**30:.2f} GiB available: refused before allocating")
