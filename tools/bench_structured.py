"""Block / pattern / filter schemes vs torch-dense, per training stage, interleaved in one process.

Layers: CIFAR-ResNet 3x3 convs (batch 32) and AlexNet conv3-5 (13x13, pad 1). For each layer,
sparsity and stage it times torch-dense (F.conv2d, torch.nn.grad.conv2d_input / conv2d_weight on
the masked dense weight) and the scheme's kernel alternately, and prints medians and speedups.
Usage: python tools/bench_structured.py [--threads 1] [--schemes block,pattern,filter]
       [--sparsities 0.5,0.9,0.99] [--layers r64,r128,...] [--reps 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from sparsebench.formats.base import ConvGeometry
from sparsebench.formats.block.format import BlockSparseWeight
from sparsebench.formats.filter.format import FilterSparseWeight
from sparsebench.formats.pattern.format import PatternSparseWeight
from sparsebench.formats.block.masks import block_mask, filter_mask, pattern_mask

LAYERS = {  # name: (N, Cin, Cout, H, stride, pad)
    "r64": (32, 64, 64, 32, 1, 1),
    "r128": (32, 128, 128, 16, 1, 1),
    "r256": (32, 256, 256, 8, 1, 1),
    "r512": (32, 512, 512, 4, 1, 1),
    "a3": (32, 256, 384, 13, 1, 1),
    "a4": (32, 384, 384, 13, 1, 1),
    "a5": (32, 384, 256, 13, 1, 1),
}


def build(scheme, w, sp, block):
    if scheme == "block":
        return BlockSparseWeight.from_block_mask(block_mask(w.shape, sp, block=block, weight=w), w)
    if scheme == "pattern":
        return PatternSparseWeight.from_pattern_mask(pattern_mask(w.shape, sp, weight=w), w)
    return FilterSparseWeight.from_filter_mask(filter_mask(w.shape, sp, weight=w), w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--schemes", default="block,pattern,filter")
    ap.add_argument("--sparsities", default="0.5,0.9,0.99")
    ap.add_argument("--layers", default=",".join(LAYERS))
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--block", default="4x4")
    ap.add_argument("--isa", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    block = tuple(int(v) for v in a.block.split("x"))
    kw = {"threads": a.threads, "isa": a.isa}
    print(f"threads={a.threads} torch={torch.__version__} block={block}")
    print(f"{'layer':6} {'scheme':8} {'sp':>6} {'reached':>7} {'stage':6} {'dense ms':>9} {'sparse ms':>9} "
          f"{'speedup':>8} {'ideal':>6} {'eff':>5}")
    for lname in a.layers.split(","):
        n, ci, co, h, s, p = LAYERS[lname]
        g = ConvGeometry(s, p)
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(n, ci, h, h, generator=gen)
        w = torch.randn(co, ci, 3, 3, generator=gen)
        for scheme in a.schemes.split(","):
            for sp in (float(v) for v in a.sparsities.split(",")):
                if scheme == "pattern" and sp < 5 / 9:
                    continue
                sw = build(scheme, w, sp, block)
                wd = sw.to_dense()
                reached = 1.0 - sw.nnz / wd.numel()
                y = F.conv2d(x, wd, stride=s, padding=p)
                dy = torch.randn(y.shape, generator=gen)
                stages = {
                    "fwd": (lambda: F.conv2d(x, wd, stride=s, padding=p), lambda: sw.forward(x, g, **kw)),
                    "bwd": (lambda: torch.nn.grad.conv2d_input(x.shape, wd, dy, stride=s, padding=p),
                            lambda: sw.backward_data(dy, x.shape, g, **kw)),
                    "wgrad": (lambda: torch.nn.grad.conv2d_weight(x, wd.shape, dy, stride=s, padding=p),
                              lambda: sw.weight_grad_sampled(x, dy, g, **kw)),
                }
                for st, (fd, fs) in stages.items():
                    fd(), fs()
                    td, ts = [], []
                    for _ in range(a.reps):
                        t0 = time.perf_counter(); fd(); t1 = time.perf_counter(); fs(); t2 = time.perf_counter()
                        td.append(t1 - t0); ts.append(t2 - t1)
                    md, ms = statistics.median(td), statistics.median(ts)
                    ideal = 1.0 / max(1.0 - reached, 1e-9)
                    print(f"{lname:6} {scheme:8} {sp:6.3f} {reached:7.4f} {st:6} {md*1e3:9.2f} {ms*1e3:9.2f} "
                          f"{md/ms:8.2f} {ideal:6.1f} {md/ms/ideal:5.2f}", flush=True)


if __name__ == "__main__":
    main()
