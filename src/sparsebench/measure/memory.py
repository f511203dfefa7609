"""Memory: a stage's own peak RSS delta, and the analytic bytes its tensors hold.

tracemalloc does not see torch tensors and ru_maxrss is a lifetime peak, so the peak of one
stage is measured by resetting the kernel's high-water mark (Linux: write "5" to
/proc/self/clear_refs, which resets VmHWM to the current RSS). RSS is page-granular and sees
allocator reuse, so tensor_bytes() reports the analytic size next to it.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = [
    "PeakDelta",
    "can_reset_peak",
    "rss_bytes",
    "peak_rss_bytes",
    "measure_peak_delta",
    "tensor_bytes",
]

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def _status_kb(key: str) -> int | None:
    """A 'kB' field of /proc/self/status (e.g. VmRSS), or None where there is no such file."""
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _ru_maxrss_bytes() -> int:
    import resource  # not on Windows; only reached where /proc is missing

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # macOS reports bytes, Linux and the BSDs kilobytes.
    return int(maxrss) if sys.platform == "darwin" else int(maxrss) * 1024


def _reset_peak() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def can_reset_peak() -> bool:
    """True when the peak RSS can be reset (Linux >= 4.0 with a writable clear_refs)."""
    return _status_kb("VmHWM") is not None and _reset_peak()


def rss_bytes() -> int:
    """Current resident set size. Off Linux this falls back to ru_maxrss, which is the
    lifetime peak, not the current size."""
    kb = _status_kb("VmRSS")
    return kb * 1024 if kb is not None else _ru_maxrss_bytes()


def peak_rss_bytes() -> int:
    """Peak RSS since start or since the last reset (VmHWM); ru_maxrss off Linux."""
    kb = _status_kb("VmHWM")
    return kb * 1024 if kb is not None else _ru_maxrss_bytes()


@dataclass
class PeakDelta:
    """peak_delta_bytes is None when the peak could not be reset: never a made-up number."""

    peak_delta_bytes: int | None
    method: str  # "clear_refs" or "unavailable"
    result: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"peak_delta_bytes": self.peak_delta_bytes, "method": self.method}


def measure_peak_delta(fn: Callable[[], Any]) -> PeakDelta:
    """Run fn once; return its peak RSS above the resting RSS just before it ran.

    The delta counts pages fn touched that were not resident before: memory fn reuses from
    the allocator's cache (freed earlier but not returned to the OS) does not show up.
    """
    if not can_reset_peak() or not _reset_peak():
        return PeakDelta(None, "unavailable", fn())
    resting = _status_kb("VmRSS")
    result = fn()
    peak = _status_kb("VmHWM")
    if resting is None or peak is None:
        return PeakDelta(None, "unavailable", result)
    return PeakDelta(max(0, peak - resting) * 1024, "clear_refs", result)


# ---------------------------------------------------------------------------------------------
# Analytic bytes

# numpy >= 2 moved byte_bounds to numpy.lib.array_utils.
_byte_bounds = getattr(getattr(np.lib, "array_utils", np), "byte_bounds")


def _torch():
    """torch if it is already imported; tensor_bytes never imports it for numpy-only callers."""
    return sys.modules.get("torch")


def _numpy_interval(arr: np.ndarray, out: list, seen: set) -> None:
    # Walk to the array that owns the memory, so views of one buffer count it once.
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    owner = root.base
    torch = _torch()
    if owner is None:
        lo, hi = _byte_bounds(root)
        out.append((lo, hi - lo))
    elif torch is not None and isinstance(owner, torch.Tensor):
        _walk(owner, out, seen)  # tensor.numpy(): the tensor's storage is the buffer
    else:
        try:
            buf = np.frombuffer(owner, dtype=np.uint8)  # bytes, mmap, memoryview ...
            lo = buf.__array_interface__["data"][0]
            out.append((lo, buf.nbytes))
        except (TypeError, ValueError):
            lo, hi = _byte_bounds(root)
            out.append((lo, hi - lo))


def _torch_interval(t, out: list, seen: set) -> None:
    torch = _torch()
    layout = t.layout
    if layout in (torch.sparse_csr, torch.sparse_bsr):
        parts = (t.crow_indices(), t.col_indices(), t.values())
    elif layout in (torch.sparse_csc, torch.sparse_bsc):
        parts = (t.ccol_indices(), t.row_indices(), t.values())
    elif layout == torch.sparse_coo:
        parts = (t._indices(), t._values())  # works on uncoalesced tensors too
    else:
        parts = None
    if parts is not None:
        for p in parts:
            _walk(p, out, seen)
        return
    if t.device.type == "meta":
        return  # no memory behind it
    try:
        storage = t.untyped_storage()
        out.append((storage.data_ptr(), storage.nbytes()))
    except (RuntimeError, NotImplementedError):
        # Tensors without a plain storage (e.g. nested): count their elements, unshared.
        out.append((("nostorage", id(t)), t.numel() * t.element_size()))


def _walk(obj: Any, out: list, seen: set) -> None:
    torch = _torch()
    if torch is not None and isinstance(obj, torch.Tensor):
        _torch_interval(obj, out, seen)
        return
    if isinstance(obj, np.ndarray):
        _numpy_interval(obj, out, seen)
        return
    if isinstance(obj, (str, bytes, bytearray, int, float, complex, bool)) or obj is None:
        return
    # Containers: guard against cycles and revisits.
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        for v in obj.values():
            _walk(v, out, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _walk(v, out, seen)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _walk(getattr(obj, f.name), out, seen)
    elif torch is not None and isinstance(obj, torch.nn.Module):
        for t in list(obj.parameters()) + list(obj.buffers()):
            _walk(t, out, seen)


def _union_bytes(intervals: list) -> int:
    """Total length of the union of (start, nbytes) byte ranges: shared or overlapping
    buffers (views, tensor <-> numpy sharing) count once."""
    total = 0
    ranges = []
    for start, n in intervals:
        if n <= 0:
            continue
        if isinstance(start, tuple):  # no address known: count as its own range
            total += n
        else:
            ranges.append((start, start + n))
    ranges.sort()
    cur_lo = cur_hi = None
    for lo, hi in ranges:
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return total


def tensor_bytes(*objs: Any) -> int:
    """Bytes held by the torch tensors and numpy arrays in objs (also nested in lists, tuples,
    dicts, sets, dataclasses and nn.Modules). Each storage counts once, in full, even when only a
    view of it is passed: the whole storage stays alive. Sparse CSR/CSC/BSR/BSC count their
    index arrays and values; COO its indices and values."""
    intervals: list = []
    seen: set = set()
    for obj in objs:
        _walk(obj, intervals, seen)
    return _union_bytes(intervals)
