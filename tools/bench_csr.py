"""Benchmark the unstructured (CSR) kernels against torch-dense and torch.sparse CSR.

Times every stage interleaved in one process (medians of several rounds) on the CIFAR-ResNet
3x3 layers (batch 32) and AlexNet conv3-5 (13x13), plus linear layers, at sparsity 0.5/0.9/0.99.
Usage: PYTHONPATH=src python tools/bench_csr.py [--threads 1] [--rounds 7] [--quick] [--torch-sparse]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from sparsebench import kernels
from sparsebench.formats.unstructured.csr import CSRWeight
from sparsebench.formats.unstructured.masks import unstructured_mask

CONV_LAYERS = [
    ("resnet64@32", 32, 64, 64, 32, 3, 1, 1),
    ("resnet128@16", 32, 128, 128, 16, 3, 1, 1),
    ("resnet256@8", 32, 256, 256, 8, 3, 1, 1),
    ("resnet512@4", 32, 512, 512, 4, 3, 1, 1),
    ("alex3 256-384@13", 32, 256, 384, 13, 3, 1, 1),
    ("alex4 384-384@13", 32, 384, 384, 13, 3, 1, 1),
    ("alex5 384-256@13", 32, 384, 256, 13, 3, 1, 1),
]
STRIDE2 = [("resnet64-128@32/s2", 32, 64, 128, 32, 3, 2, 1)]
LINEAR = [("linear1024 b256", 256, 1024, 1024), ("linear4096 b256", 256, 4096, 4096)]


def timeit(fns: dict, rounds: int) -> dict:
    for f in fns.values():
        f()  # warm up
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():  # interleaved
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_conv(name, N, Cin, Cout, H, k, s, p, sparsity, threads, rounds, with_sparse):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(Cout, Cin, k, k, generator=gen)
    mask, _ = unstructured_mask(w, sparsity, by="random", generator=gen)
    wm = w * mask
    x = torch.randn(N, Cin, H, H, generator=gen)
    y = F.conv2d(x, wm, stride=s, padding=p)
    dy = torch.randn_like(y)
    sw = CSRWeight.from_dense(wm, mask)
    sw.transposed(s)  # built once per mask update, cached
    kw = dict(isa=None, threads=threads)
    from sparsebench.formats.base import ConvGeometry

    g = ConvGeometry(stride=s, padding=p)
    fns = {
        "dense_fwd": lambda: F.conv2d(x, wm, stride=s, padding=p),
        "csr_fwd": lambda: sw.forward(x, g, **kw),
        "dense_bwd": lambda: torch.nn.grad.conv2d_input(x.shape, wm, dy, stride=s, padding=p),
        "csr_bwd": lambda: sw.backward_data(dy, tuple(x.shape), g, **kw),
        "dense_wg": lambda: torch.nn.grad.conv2d_weight(x, wm.shape, dy, stride=s, padding=p),
        "csr_wg": lambda: sw.weight_grad_sampled(x, dy, g, **kw),
    }
    if with_sparse:
        wcsr = wm.reshape(Cout, -1).to_sparse_csr()

        def ts_fwd():
            xr = F.unfold(x, k, padding=p, stride=s)  # (N, K, P)
            yr = torch.stack([wcsr @ xr[n] for n in range(N)])
            return yr.reshape(y.shape)

        fns["tsparse_fwd"] = ts_fwd
    t = timeit(fns, rounds)
    Ho = y.shape[2]
    flops = 2 * Cout * Cin * k * k * N * Ho * Ho
    out = {"layer": name, "s": sparsity, "nnz": sw.nnz}
    for st in ("fwd", "bwd", "wg"):
        out[st] = (t[f"dense_{st}"], t[f"csr_{st}"], t[f"dense_{st}"] / t[f"csr_{st}"])
    out["eff_fwd"] = flops * sw.density / t["csr_fwd"] / (flops / t["dense_fwd"])
    if with_sparse:
        out["vs_tsparse"] = t["tsparse_fwd"] / t["csr_fwd"]
    return out


def bench_linear(name, B, fin, fout, sparsity, threads, rounds, with_sparse):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(fout, fin, generator=gen)
    mask, _ = unstructured_mask(w, sparsity, by="random", generator=gen)
    wm = w * mask
    x = torch.randn(B, fin, generator=gen)
    dy = torch.randn(B, fout, generator=gen)
    sw = CSRWeight.from_dense(wm, mask)
    sw.transposed(1)
    kw = dict(isa=None, threads=threads)
    fns = {
        "dense_fwd": lambda: F.linear(x, wm),
        "csr_fwd": lambda: sw.forward(x, **kw),
        "dense_bwd": lambda: dy @ wm,
        "csr_bwd": lambda: sw.backward_data(dy, tuple(x.shape), **kw),
        "dense_wg": lambda: dy.T @ x,
        "csr_wg": lambda: sw.weight_grad_sampled(x, dy, **kw),
    }
    if with_sparse:
        wcsr = wm.to_sparse_csr()
        fns["tsparse_fwd"] = lambda: (wcsr @ x.T).T
    t = timeit(fns, rounds)
    out = {"layer": name, "s": sparsity, "nnz": sw.nnz}
    for st in ("fwd", "bwd", "wg"):
        out[st] = (t[f"dense_{st}"], t[f"csr_{st}"], t[f"dense_{st}"] / t[f"csr_{st}"])
    out["eff_fwd"] = sw.density * t["dense_fwd"] / t["csr_fwd"]
    if with_sparse:
        out["vs_tsparse"] = t["tsparse_fwd"] / t["csr_fwd"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--sparsity", type=float, nargs="*", default=[0.5, 0.9, 0.99])
    ap.add_argument("--quick", action="store_true", help="first ResNet layer and one AlexNet layer only")
    ap.add_argument("--torch-sparse", action="store_true", help="also time torch.sparse CSR forward (slow)")
    ap.add_argument("--only", default="", help="substring filter on layer names")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"isa={kernels.resolve_isa(None)} threads={a.threads} torch={torch.__version__}")
    print(f"{'layer':<20} {'s':>5} | {'fwd dense/csr ms':>18} {'x':>6} | {'bwd dense/csr ms':>18} {'x':>6} | "
          f"{'wg dense/csr ms':>18} {'x':>6} | eff_fwd" + (" | vs tsparse" if a.torch_sparse else ""))
    convs = CONV_LAYERS + STRIDE2
    if a.quick:
        convs = [CONV_LAYERS[0], CONV_LAYERS[3], CONV_LAYERS[5]]
    jobs = [("c", c) for c in convs] + [("l", l) for l in LINEAR]
    for kind, spec in jobs:
        if a.only and a.only not in spec[0]:
            continue
        for s in a.sparsity:
            if kind == "c":
                r = bench_conv(*spec, s, a.threads, a.rounds, a.torch_sparse)
            else:
                r = bench_linear(*spec, s, a.threads, a.rounds, a.torch_sparse)
            line = f"{r['layer']:<20} {s:>5} |"
            for st in ("fwd", "bwd", "wg"):
                d, c, x = r[st]
                line += f" {d*1e3:8.2f}/{c*1e3:8.2f} {x:6.2f} |"
            line += f" {r['eff_fwd']:.2f}"
            if "vs_tsparse" in r:
                line += f" | {r['vs_tsparse']:.1f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
