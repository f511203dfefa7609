"""The in-process runner: time a case's implementations interleaved in this process, probe each
one's memory, and turn the timings into metrics (speedups only against the baseline timed in
the same process run)."""

from __future__ import annotations

import contextlib
import math

import torch

from ..baselines import TORCH_DENSE
from ..cases import StageBench
from ..measure import flop_reduction, measure_peak_delta, speedup, time_interleaved

BASELINE = TORCH_DENSE


@contextlib.contextmanager
def torch_threads(n: int):
    """torch's intra-op threads for the baselines, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def stage_metrics(bench: StageBench, timings: dict, memory: dict) -> dict[str, dict]:
    """impl -> metrics of one case's interleaved timings."""
    reduction = flop_reduction(bench.dense_flops, bench.effective_flops) if bench.dense_flops else None
    ref = timings.get(bench.ratio_to) if bench.ratio_to else None
    out = {}
    for name, timing in timings.items():
        metrics = {
            "median_s": timing.median_s,
            "iqr_s": timing.iqr_s,
            "samples": len(timing.samples),
            "dense_flops": bench.dense_flops,
            "effective_flops": bench.effective_flops,
            "flop_reduction": reduction,
            "peak_delta_bytes": memory[name].peak_delta_bytes,
            "memory_method": memory[name].method,
            "tensor_bytes": bench.tensor_bytes.get(name),
            **bench.info,
        }
        if BASELINE in timings:
            s = speedup(timings[BASELINE], timing)
            metrics["speedup_vs_torch_dense"] = s
            metrics["efficiency"] = s / reduction if reduction and math.isfinite(reduction) else None
        if ref is not None and name == bench.ratio_to:
            metrics["yardstick"] = True  # timed only so the others read as multiples of it
        elif ref is not None and ref.median_s > 0:
            metrics["ratio_to"] = bench.ratio_to
            metrics["ratio_to_reference"] = timing.median_s / ref.median_s
        if bench.effective_flops and timing.median_s > 0:
            metrics["effective_gflops"] = bench.effective_flops / timing.median_s / 1e9
        if bench.bytes_moved and timing.median_s > 0:
            metrics["gbytes_per_s"] = bench.bytes_moved / timing.median_s / 1e9
        out[name] = metrics
    return out


def measure_bench(bench: StageBench, threads: int, *, rounds: int = 7, max_case_s: float = 20.0) -> dict[str, dict]:
    """Time every implementation of a built case interleaved at ``threads``, then probe memory."""
    with torch_threads(threads):
        timings = time_interleaved(bench.impls, rounds=rounds, max_total_s=max_case_s)
        memory = {name: measure_peak_delta(fn) for name, fn in bench.impls.items()}
    return stage_metrics(bench, timings, memory)
