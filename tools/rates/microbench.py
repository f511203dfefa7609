"""Side-by-side micro-timing of one weight-sparse stage against torch-dense (interleaved rounds,
medians). Development aid for issue 19; the suite's numbers come from `sparsebench run`.

  python tools/rates/microbench.py LAYER [--scheme unstructured] [--stage forward] [--s 0.9]
         [--threads 1] [--rounds 7] [--env NAME=VALUE ...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch


def timeit(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("layer")
    ap.add_argument("--scheme", default="unstructured")
    ap.add_argument("--stage", default="forward")
    ap.add_argument("--s", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--isa", default=None)
    a = ap.parse_args()
    from sparsebench.cases import OURS, BenchCase
    from sparsebench.methods.static_mask import bench as smb

    torch.set_num_threads(a.threads)
    case = BenchCase("weight_sparse", a.layer, a.scheme, a.stage, a.s, a.threads)
    sb = smb.build(case)
    impls = sb.impls
    fns = {k: v for k, v in impls.items() if k in (OURS, "torch-dense", "torch-dense-channels_last")}
    for f in fns.values():
        f()
    reps = {}
    for k, f in fns.items():
        t = timeit(f, 1)
        reps[k] = max(1, int(0.15 / max(t, 1e-6)))
    times = {k: [] for k in fns}
    for _ in range(a.rounds):
        for k, f in fns.items():
            times[k].append(timeit(f, reps[k]))
    med = {k: statistics.median(v) for k, v in times.items()}
    dense = min(v for k, v in med.items() if k != OURS)
    eff_flops = sb.effective_flops
    dense_flops = sb.dense_flops
    print(f"{a.layer:<20} {a.scheme:<12} {a.stage:<20} s={a.s} t={a.threads}: "
          + "  ".join(f"{k}={v*1e3:.3f}ms" for k, v in med.items())
          + f"  speedup={dense/med[OURS]:.2f} eff={dense/med[OURS]*eff_flops/dense_flops:.3f}"
          + f"  ours {eff_flops/med[OURS]/1e9:.1f} useful GFLOP/s, dense {dense_flops/dense/1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
