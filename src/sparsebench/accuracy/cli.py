"""`sparsebench accuracy`: accuracy-vs-sparsity training runs on offline data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd(args: argparse.Namespace) -> int:
    from ..harness.progress import progress
    from ..measure import default_results_path, load_records, machine_record
    from .runs import accuracy_cases, run_accuracy

    cases = [c for c in accuracy_cases(args.dataset, quick=not args.full)
             if (not args.method or c.method in args.method) and (not args.scheme or c.scheme in args.scheme)]
    from dataclasses import replace

    if args.epochs:
        cases = [replace(c, epochs=args.epochs) for c in cases]
    # seed-major: an interrupted run has every case at the first seeds rather than some cases at all
    cases = [replace(c, seed=seed) for seed in args.seeds for c in cases]
    if args.list:
        print("\n".join(c.id for c in cases))
        return 0
    out = Path(args.out) if args.out else default_results_path(Path(args.results), machine_record())
    run_accuracy(cases, out, progress=progress(args.quiet))
    rows = [r for r in load_records(out) if r["kind"] in ("accuracy", "error")]
    for r in rows:
        c, m = r["case"], r["metrics"]
        val = f"{m['accuracy']:.3f}  final loss {m['final_loss']:.3f}" if r["kind"] == "accuracy" else m["error"]
        print(f"{c['dataset']:<7} {c['method']:<14} {c['scheme']:<13} {c['sparsity']:>5.2f} seed {c.get('seed', 0)}  {val}")
    print(f"records: {out}", file=sys.stderr)
    return 0


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seeds takes integers >= 0, got {text}")
    return value


def add_commands(sub) -> None:
    p = sub.add_parser("accuracy", help="accuracy vs sparsity on offline data (digits, mnist)")
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    p.add_argument("--full", action="store_true", help="more sparsities and rates")
    p.add_argument("--method", action="append", help="a method's name, or dense (default: all)")
    p.add_argument("--scheme", action="append")
    p.add_argument("--epochs", type=int, help="override the fixed training budget")
    p.add_argument("--seeds", type=_seed, nargs="+", default=[0],
                   help="train every case once per seed (init, mask, data order); the report shows the spread")
    p.add_argument("--results", default="results")
    p.add_argument("--out")
    p.add_argument("--list", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd)
