#!/usr/bin/env python
"""Activation-gradient pruning (Ye et al. 2020): per-stage timing of the sparse-dO backward path
against torch-dense backward of the same layer, interleaved in one process.

Stages: front-end (DBTD threshold pass + fused prune/compress pass), backward-data (dX) and
weight-gradient (dW) from the compressed dO; layout conversions are inside the kernels' times.
Baseline: torch.nn.grad.conv2d_input / conv2d_weight (oneDNN) on the dense pruned dO.

Two dO regimes per p:
  dbtd     Gaussian dO pruned by DBTD + stochastic pruning at rate p (the method itself): the
           density reached is far above 1 - p because values below tau are promoted to +-tau.
  nominal  dO with exactly a fraction p of zeros (Bernoulli mask): what the kernels do at the
           density the rate p names; shows the kernels' scaling, not the method's.

    PYTHONPATH=src python tools/bench_actgrad.py [--threads 1] [--reps 7] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.nn.grad import conv2d_input, conv2d_weight

from sparsebench.methods import actgrad as ag
from sparsebench import kernels

LAYERS = {  # name: (N, C, H=W), 3x3 stride 1 pad 1, Cin = Cout = C
    "resnet-64x32": (32, 64, 32),
    "resnet-128x16": (32, 128, 16),
    "resnet-256x8": (32, 256, 8),
    "resnet-512x4": (32, 512, 4),
}


def timeit(fns: dict, reps: int) -> dict:
    """Median seconds of each callable, run round-robin (interleaved) after one warm-up."""
    for f in fns.values():
        f()
    ts = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}


def stream_copy_gbs(reps: int = 5) -> tuple[float, float]:
    """512 MiB copies, (read + write) bytes / median time: torch clone (includes faulting in a
    fresh destination, as the front-end's fresh outputs do) and copy_ into a resident tensor."""
    a = torch.ones(128 * 1024 * 1024)
    b = torch.empty_like(a)
    b.copy_(a)
    t = timeit({"clone": lambda: a.clone(), "copy_": lambda: b.copy_(a)}, reps)
    del b
    return 2 * a.numel() * 4 / t["clone"] / 1e9, 2 * a.numel() * 4 / t["copy_"] / 1e9


def bench_layer(name, n, c, hw, p, regime, threads, reps, isa):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, hw, hw, generator=gen)
    w = torch.randn(c, c, 3, 3, generator=gen) * 0.05
    g = torch.randn(n, c, hw, hw, generator=gen)
    if regime == "nominal":
        g = g * (torch.rand(g.shape, generator=gen) >= p)
        front = lambda: ag.prune_compress(g, 0.0, 1, isa=isa, threads=threads)  # noqa: E731 (keeps every nonzero)
    else:
        front = lambda: ag.prune(g, p, 1, isa=isa, threads=threads)  # noqa: E731
    sg = front()
    d = sg.to_dense()
    t = timeit(
        {
            "dense_dx": lambda: conv2d_input(x.shape, w, d, 1, 1),
            "dense_dw": lambda: conv2d_weight(x, w.shape, d, 1, 1),
            "front": front,
            "dx": lambda: ag.conv2d_backward_data(w, sg, (hw, hw), 1, 1, isa=isa, threads=threads),
            "dw": lambda: ag.conv2d_weight_grad(x, sg, (3, 3), 1, 1, isa=isa, threads=threads),
        },
        reps,
    )
    flops = 2 * n * hw * hw * c * c * 9  # per stage, dense
    moved = 2 * g.numel() * 4 + sg.nbytes()  # two reads of dO + the compressed output
    dense = t["dense_dx"] + t["dense_dw"]
    return {
        "layer": name, "p": p, "regime": regime, "density": sg.density, "sparsity": sg.sparsity,
        "t_front_ms": t["front"] * 1e3, "t_dx_ms": t["dx"] * 1e3, "t_dw_ms": t["dw"] * 1e3,
        "t_dense_dx_ms": t["dense_dx"] * 1e3, "t_dense_dw_ms": t["dense_dw"] * 1e3,
        "speedup_dx": t["dense_dx"] / t["dx"], "speedup_dw": t["dense_dw"] / t["dw"],
        "speedup_dx_fe": t["dense_dx"] / (t["dx"] + t["front"] / 2),  # front-end cost split over 2 stages
        "speedup_dw_fe": t["dense_dw"] / (t["dw"] + t["front"] / 2),
        "speedup_total": dense / (t["front"] + t["dx"] + t["dw"]),
        "flop_reduction": 1 / max(sg.density, 1e-9),
        "efficiency_total": dense / (t["front"] + t["dx"] + t["dw"]) * sg.density,
        "front_gbs": moved / t["front"] / 1e9,
        "front_dO_gbs": g.numel() * 4 / t["front"] / 1e9,
        "dense_gflops_dx": flops / t["dense_dx"] / 1e9,
        "useful_gflops_dx": flops * sg.density / t["dx"] / 1e9,
        "useful_gflops_dw": flops * sg.density / t["dw"] / 1e9,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--ps", type=float, nargs="+", default=[0.5, 0.9, 0.99])
    ap.add_argument("--layers", nargs="+", default=list(LAYERS))
    ap.add_argument("--regimes", nargs="+", default=["dbtd", "nominal"])
    ap.add_argument("--isa", default=None)
    ap.add_argument("--quick", action="store_true", help="3 reps")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    reps = 3 if a.quick else a.reps
    torch.set_num_threads(a.threads)
    isa = kernels.resolve_isa(a.isa)
    copy, copy_resident = stream_copy_gbs()
    print(f"# isa={isa} threads={a.threads} torch_threads={torch.get_num_threads()} reps={reps} "
          f"stream copy 512 MiB (read+write bytes): torch clone = {copy:.1f} GB/s, copy_ into resident = "
          f"{copy_resident:.1f} GB/s; fe%cl / fe%cp = front-end moved bytes (2 reads of dO + compressed "
          f"output) / time, as % of the clone / resident-copy figure")
    print("# times in ms (medians); speedup = torch-dense / sparse; *_fe includes half the front-end each; "
          "total = (dense dx + dense dw) / (front + dx + dw)")
    hdr = (f"{'layer':15} {'regime':7} {'p':>5} {'dens':>6} {'front':>7} {'fe%cl':>6} {'fe%cp':>6} {'dx':>8} {'dense':>8} "
           f"{'dw':>8} {'dense':>8} {'x_dx':>5} {'x_dw':>5} {'x_dxfe':>6} {'x_dwfe':>6} {'x_tot':>5} {'ideal':>5} "
           f"{'GF/s dx/dw (dense)':>20}")
    print(hdr)
    rows = []
    for name in a.layers:
        n, c, hw = LAYERS[name]
        for regime in a.regimes:
            for p in a.ps:
                r = bench_layer(name, n, c, hw, p, regime, a.threads, reps, a.isa)
                r["copy_gbs"], r["copy_resident_gbs"] = copy, copy_resident
                rows.append(r)
                print(f"{name:15} {regime:7} {p:5.2f} {r['density']:6.3f} {r['t_front_ms']:7.2f} "
                      f"{100 * r['front_gbs'] / copy:5.0f}% {100 * r['front_gbs'] / copy_resident:5.0f}% {r['t_dx_ms']:8.2f} {r['t_dense_dx_ms']:8.2f} "
                      f"{r['t_dw_ms']:8.2f} {r['t_dense_dw_ms']:8.2f} {r['speedup_dx']:5.2f} {r['speedup_dw']:5.2f} "
                      f"{r['speedup_dx_fe']:6.2f} {r['speedup_dw_fe']:6.2f} {r['speedup_total']:5.2f} "
                      f"{r['flop_reduction']:5.1f} {r['useful_gflops_dx']:6.0f}/{r['useful_gflops_dw']:4.0f} "
                      f"({r['dense_gflops_dx']:4.0f})", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"isa": isa, "threads": a.threads, "copy_gbs": copy, "copy_resident_gbs": copy_resident, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
