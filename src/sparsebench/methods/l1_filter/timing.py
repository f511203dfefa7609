"""Wall-clock of the pruned networks vs unpruned: forward (eval) and a training step (SGD,
forward + backward + update), timed interleaved in one process (sparsebench.measure), medians.

    python -m sparsebench.methods.l1_filter.timing --batch 16 --rounds 5 --threads 1
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from ...measure import time_interleaved
from .flops import reduction
from .models import build
from .prune import prune_network

NETS = (("vgg16", "A"), ("resnet56", "A"), ("resnet56", "B"), ("resnet110", "A"), ("resnet110", "B"))


def _fns(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def forward():
        model.eval()
        with torch.no_grad():
            model(x)

    def step():
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return forward, step


def measure(name: str, plan: str, batch: int, rounds: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    base = build(name)
    pruned = prune_network(name, base, plan)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(batch, 3, 32, 32, generator=gen), torch.randint(0, 10, (batch,), generator=gen)
    bf, bs = _fns(base, x, y)
    pf, ps = _fns(pruned, x, y)
    t = time_interleaved({"dense_fwd": bf, "pruned_fwd": pf, "dense_step": bs, "pruned_step": ps},
                         rounds=rounds, max_total_s=60.0)
    r = reduction(name, plan)
    return {**r, "batch": batch, "threads": threads, "rounds": rounds,
            **{f"{k}_median_s": v.median_s for k, v in t.items()},
            "forward_speedup": t["dense_fwd"].median_s / t["pruned_fwd"].median_s,
            "step_speedup": t["dense_step"].median_s / t["pruned_step"].median_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    rows = []
    print(f"{'network':10} {'plan':4} {'FLOPs':>10} {'pruned':>10} {'-%':>6} {'FCM -%':>7} {'fwd x':>6} {'step x':>6}")
    for name, plan in NETS:
        r = measure(name, plan, a.batch, a.rounds, a.threads)
        rows.append(r)
        print(f"{name:10} {r['plan']:4} {r['flops']:10.3e} {r['pruned_flops']:10.3e} {100 * r['reduction']:6.1f} "
              f"{100 * r['flop_counter_reduction']:7.1f} {r['forward_speedup']:6.2f} {r['step_speedup']:6.2f}",
              flush=True)
    if a.out:
        import os
        import tempfile

        d = os.path.dirname(os.path.abspath(a.out))
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
