"""MEST's own experiment runs, through sparsebench's accuracy loop and result records:

  python -m sparsebench.methods.mest.experiment accuracy --dataset mnist --sparsity 0.9 \
      --variant ems --seeds 0 1 --epochs 8 --every 2 --out results/mest-mnist.json [--shard 0/2]
      MEST runs per scheme x variant x sparsity x seed, with the dense model and the static-mask
      model (same sparsity, no mutation) at the same seeds: "accuracy" records
  python -m sparsebench.methods.mest.experiment table results/mest-mnist.json
      accuracy mean +- std over seeds per (method, scheme, sparsity), mutated weights per update
  python -m sparsebench.methods.mest.experiment memory --model mlp --out results/mest-memory.json
      the peak-memory table (memory.py): "mest_memory" records
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

DENSE = "dense"


def accuracy_grid(dataset, schemes, variants, sparsities, seeds, epochs, every, baselines=True, drop=False,
                  also=()):
    """Per seed: dense; per sparsity and format: MEST's static baseline (its own sparse init, no
    mutation: "<format>+static"), each method named in ``also`` on the format (e.g. the project's
    static-mask method, magnitude-masked dense init), and each MEST variant."""
    from ...accuracy.runs import AccuracyCase

    cases = []
    for seed in seeds:
        if baselines:
            cases.append(AccuracyCase(DENSE, DENSE, 0.0, dataset, epochs, seed))
        for s in sparsities:
            for fmt in schemes:
                if baselines:
                    cases.append(AccuracyCase("mest", f"{fmt}+static", s, dataset, epochs, seed))
                cases += [AccuracyCase(name, fmt, s, dataset, epochs, seed) for name in also]
                for v in variants:
                    spec = fmt + ("" if v == "mest" else f"+{v}") + ("+drop" if drop else "") + f"@{every}"
                    cases.append(AccuracyCase("mest", spec, s, dataset, epochs, seed))
    return cases


def summarize(records) -> list[tuple]:
    groups = defaultdict(list)
    mutated = defaultdict(list)
    times = defaultdict(list)
    examples = defaultdict(list)  # training examples presented over the run: what data efficiency saves
    from ...reports.data import accuracy_runs  # the newest record per seed: a rerun replaces its seed

    for r in (r for seeds in accuracy_runs(records).values() for r in seeds.values()):
        c, m = r["case"], r["metrics"]
        key = (c["dataset"], c["method"], c["scheme"], c["sparsity"])
        groups[key].append(m["accuracy"])
        times[key].append(m["train_s"])
        if "mest" in m:
            mutated[key].append([u["pruned"] + u["grown"] for u in m["mest"]["updates"]])
            examples[key].append(m["mest"].get("examples_presented"))
    rows = []
    for key in sorted(groups):
        a = groups[key]
        sd = statistics.stdev(a) if len(a) > 1 else 0.0
        mut = mutated.get(key)
        seen = [e for e in examples.get(key, []) if e is not None]
        rows.append((*key, len(a), statistics.mean(a), sd, min(a), max(a), statistics.median(times[key]),
                     int(statistics.median(seen)) if seen else None, mut[0] if mut else None))
    return rows


def table_text(rows) -> str:
    lines = [f"{'dataset':<7} {'method':<12} {'scheme':<26} {'s':>5} {'n':>2} {'acc mean':>8} {'std':>6} "
             f"{'min':>6} {'max':>6} {'train_s':>8} {'examples':>8}  mutated weights per update (seed 0)"]
    for d, meth, sch, s, n, mean, sd, lo, hi, ts, ex, mut in rows:
        lines.append(f"{d:<7} {meth:<12} {sch:<26} {s:>5.2f} {n:>2} {mean:>8.3f} {sd:>6.3f} {lo:>6.3f} {hi:>6.3f} "
                     f"{ts:>8.1f} {ex if ex is not None else '-':>8}  {mut if mut is not None else '-'}")
    return "\n".join(lines)


def _main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sparsebench.methods.mest.experiment")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    a.add_argument("--scheme", action="append", help="formats (default: all four)")
    a.add_argument("--variant", action="append", choices=["mest", "em", "ems", "static"], help="default: ems")
    a.add_argument("--sparsity", type=float, action="append")
    a.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    a.add_argument("--epochs", type=int, default=8)
    a.add_argument("--every", type=int, default=2, help="epochs between mutations (the authors: 5 of 160)")
    a.add_argument("--no-baselines", action="store_true")
    a.add_argument("--drop", action="store_true", help="two-phase data-efficient runs (forgetting)")
    a.add_argument("--also-method", action="append", default=[], help="another method's runs on each format")
    a.add_argument("--shard", default="0/1", help="i/n: run every n-th case from the i-th")
    a.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("paths", nargs="+")
    m = sub.add_parser("memory")
    m.add_argument("--model", default="mlp")
    m.add_argument("--scheme", action="append")
    m.add_argument("--sparsity", type=float, action="append")
    m.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if args.cmd == "accuracy":
        from ...accuracy.runs import run_accuracy
        from .init import SCHEMES

        cases = accuracy_grid(args.dataset, args.scheme or list(SCHEMES), args.variant or ["ems"],
                              args.sparsity or [0.9], args.seeds, args.epochs, args.every, not args.no_baselines,
                              args.drop, args.also_method)
        i, n = (int(v) for v in args.shard.split("/"))
        cases = cases[i::n]
        run_accuracy(cases, Path(args.out), progress=lambda k, total, c: print(f"[{k}/{total}] {c.id if c else 'done'}",
                                                                             flush=True))
        return 0
    if args.cmd == "table":
        from ...measure import load_records

        recs = [r for path in args.paths for r in load_records(Path(path))]
        print(table_text(summarize(recs)))
        return 0
    from .claims import run_memory

    run_memory(Path(args.out), model=args.model, schemes=tuple(args.scheme or ["unstructured"]),
               sparsities=tuple(args.sparsity or [0.5, 0.8, 0.9, 0.95]))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
