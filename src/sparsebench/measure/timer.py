"""Wall-clock timing of callables: median and IQR, and interleaved A/B timing.

On a shared 2-core VM the same code can vary 2x between runs, so the numbers that matter are
ratios taken from one run (see docs/design measurement.md). `time_interleaved` exists for that.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Timing", "time_callable", "time_interleaved", "speedup"]

# Keep calibration bounded when a call is very fast (or the clock reads 0 for one call).
_MAX_NUMBER = 1_000_000
_MIN_SAMPLES = 3


@dataclass(frozen=True)
class Timing:
    """Per-call seconds. Each sample is the mean of `number` back-to-back calls."""

    median_s: float
    iqr_s: float
    q1_s: float
    q3_s: float
    min_s: float
    samples: tuple[float, ...]
    number: int

    @classmethod
    def from_samples(cls, samples, number: int) -> "Timing":
        if len(samples) == 0:
            raise ValueError("Timing needs at least one sample")
        arr = np.asarray(samples, dtype=float)
        q1, med, q3 = np.percentile(arr, [25, 50, 75])
        return cls(
            median_s=float(med),
            iqr_s=float(q3 - q1),
            q1_s=float(q1),
            q3_s=float(q3),
            min_s=float(arr.min()),
            samples=tuple(float(s) for s in arr),
            number=int(number),
        )

    def to_dict(self) -> dict:
        return {
            "median_s": self.median_s,
            "iqr_s": self.iqr_s,
            "q1_s": self.q1_s,
            "q3_s": self.q3_s,
            "min_s": self.min_s,
            "samples": list(self.samples),
            "number": self.number,
        }


def _run(fn: Callable[[], object], number: int) -> float:
    """Seconds for `number` calls. GC is off meanwhile (as in timeit): a cyclic collection
    landing in one sample is noise unrelated to the kernel; refcounting still frees tensors."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - t0
    finally:
        if was_enabled:
            gc.enable()


def _calibrate(fn: Callable[[], object], min_sample_s: float) -> int:
    """Smallest call count (found by growing it) whose run lasts >= min_sample_s."""
    number = 1
    while True:
        elapsed = _run(fn, number)
        if elapsed >= min_sample_s or number >= _MAX_NUMBER:
            return number
        # Predict from the rate seen, +20% margin; cap growth at 10x per step because a single
        # very short run is dominated by timer overhead and mispredicts.
        if elapsed > 0:
            want = math.ceil(number * min_sample_s / elapsed * 1.2)
        else:
            want = number * 10
        number = min(max(number + 1, min(want, number * 10)), _MAX_NUMBER)


def _check_common(warmup: int, count: int, count_name: str, min_sample_s: float, max_total_s: float):
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if count < 1:
        raise ValueError(f"{count_name} must be >= 1, got {count}")
    if min_sample_s < 0:
        raise ValueError(f"min_sample_s must be >= 0, got {min_sample_s}")
    if max_total_s <= 0:
        raise ValueError(f"max_total_s must be > 0, got {max_total_s}")


def time_callable(
    fn: Callable[[], object],
    *,
    warmup: int = 1,
    repeats: int = 7,
    min_sample_s: float = 0.002,
    max_total_s: float = 5.0,
) -> Timing:
    """Time fn(): warm up, calibrate calls per sample once, then take `repeats` samples.

    Stops early once max_total_s (counted from the start, warm-up included) is exceeded, but
    keeps at least min(3, repeats) samples so the median and IQR mean something.
    """
    _check_common(warmup, repeats, "repeats", min_sample_s, max_total_s)
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
    number = _calibrate(fn, min_sample_s)
    samples: list[float] = []
    for _ in range(repeats):
        if len(samples) >= _MIN_SAMPLES and time.perf_counter() - start > max_total_s:
            break
        samples.append(_run(fn, number) / number)
    return Timing.from_samples(samples, number)


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    *,
    warmup: int = 1,
    rounds: int = 7,
    min_sample_s: float = 0.002,
    max_total_s: float = 10.0,
) -> dict[str, Timing]:
    """Time several callables in one process run, one sample of each per round.

    Round r visits the callables rotated by r positions, so each one runs first, second, ...
    equally often; slow drift (thermal, a noisy neighbour) and position effects (cache state left
    by the previous callable) then hit all of them alike and cancel in their ratios.
    Each callable gets its own calls-per-sample, calibrated after its warm-up.
    """
    if not fns:
        raise ValueError("time_interleaved needs at least one callable")
    _check_common(warmup, rounds, "rounds", min_sample_s, max_total_s)
    names = list(fns)
    start = time.perf_counter()
    numbers: dict[str, int] = {}
    for name in names:
        for _ in range(warmup):
            fns[name]()
        numbers[name] = _calibrate(fns[name], min_sample_s)

    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        if r >= _MIN_SAMPLES and time.perf_counter() - start > max_total_s:
            break
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_run(fns[name], numbers[name]) / numbers[name])
    return {name: Timing.from_samples(samples[name], numbers[name]) for name in names}


def speedup(baseline: Timing, candidate: Timing) -> float:
    """baseline median / candidate median: > 1 means the candidate is faster."""
    b, c = baseline.median_s, candidate.median_s
    if c == 0:
        # A zero median means the clock could not resolve the call; no ratio is meaningful
        # unless the baseline took measurable time.
        return math.inf if b > 0 else math.nan
    return b / c
