"""The in-process runner: time a case's implementations interleaved in this process and turn the
timings into metrics (speedups only against the baseline timed in the same process run).

The dense baseline is torch-dense in every layout the case timed (NCHW and channels_last for a
conv): speedups are taken against the faster one by default (``baseline_layout="best"``), or
against the layout asked for; each record names the layout its speedup is against, and keeps
the speedup against each layout. Memory is not probed here (after the timing loop the
allocator's cache and the kernels' scratch are resident): runners.memory measures it in a
fresh child process per case."""

from __future__ import annotations

import contextlib
import math

import torch

from ..baselines import BASELINE_LAYOUTS, DENSE_LAYOUTS, LINEAR_LAYOUT, TORCH_DENSE
from ..cases import StageBench
from ..measure import flop_reduction, speedup, time_interleaved

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


def pick_baseline(timings: dict, baseline_layout: str = "best", *, two_d: bool = False) -> tuple[str | None, str | None]:
    """(impl, layout) of the dense baseline: the faster torch-dense layout timed ("best"), or the
    one asked for when it was timed (else NCHW)."""
    if baseline_layout not in BASELINE_LAYOUTS:
        raise ValueError(f"baseline_layout must be one of {BASELINE_LAYOUTS}, got {baseline_layout!r}")
    dense = [n for n in DENSE_LAYOUTS if n in timings]
    if not dense:
        return None, None
    if baseline_layout == "best":
        name = min(dense, key=lambda n: timings[n].median_s)
    else:
        name = next((n for n in dense if DENSE_LAYOUTS[n] == baseline_layout), dense[0])
    return name, (LINEAR_LAYOUT if two_d else DENSE_LAYOUTS[name])


def stage_metrics(bench: StageBench, timings: dict, memory: dict | None = None, *,
                  baseline_layout: str = "best", two_d: bool = False) -> dict[str, dict]:
    """impl -> metrics of one case's interleaved timings (``memory``: impl -> metrics to merge,
    e.g. from runners.memory; ``two_d``: a linear layer, whose one dense layout is row-major)."""
    reduction = flop_reduction(bench.dense_flops, bench.effective_flops) if bench.dense_flops else None
    ref = timings.get(bench.ratio_to) if bench.ratio_to else None
    base_name, base_layout = pick_baseline(timings, baseline_layout, two_d=two_d)
    out = {}
    for name, timing in timings.items():
        tb = bench.tensor_bytes.get(name)
        metrics = {
            "median_s": timing.median_s,
            "iqr_s": timing.iqr_s,
            "samples": len(timing.samples),
            "dense_flops": bench.dense_flops,
            "effective_flops": bench.effective_flops,
            "flop_reduction": reduction,
            "tensor_bytes": tb() if callable(tb) else tb,  # a callable: read after timing (caches built)
            **bench.info,
            **((memory or {}).get(name) or {}),
        }
        if name in DENSE_LAYOUTS:
            metrics["layout"] = LINEAR_LAYOUT if two_d else DENSE_LAYOUTS[name]
        if base_name is not None:
            s = speedup(timings[base_name], timing)
            metrics["speedup_vs_torch_dense"] = s
            metrics["baseline_impl"] = base_name
            metrics["baseline_layout"] = base_layout
            metrics["baseline_median_s"] = timings[base_name].median_s
            for dn in DENSE_LAYOUTS:
                if dn in timings:
                    metrics[f"speedup_vs_torch_dense_{DENSE_LAYOUTS[dn]}"] = speedup(timings[dn], timing)
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


def measure_bench(bench: StageBench, threads: int, *, rounds: int = 7, max_case_s: float = 20.0,
                  baseline_layout: str = "best", two_d: bool = False) -> dict[str, dict]:
    """Time every implementation of a built case interleaved at ``threads``."""
    with torch_threads(threads):
        timings = time_interleaved(bench.impls, rounds=rounds, max_total_s=max_case_s)
    return stage_metrics(bench, timings, baseline_layout=baseline_layout, two_d=two_d)
