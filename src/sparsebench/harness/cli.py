"""`sparsebench run` and `sparsebench table`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import catalogue


def _progress(i: int, n: int, case) -> None:
    width = 30
    done = int(width * i / max(n, 1))
    label = case.id if case is not None else "done"
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {i}/{n} {label[:70]:<70}")
    if case is None:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _refused(args: argparse.Namespace) -> list:
    """(case, reason) of the selection that a method cannot build (a format that cannot hold a
    layer's geometry): recorded as unavailable, not dropped."""
    from .. import methods

    prof = catalogue.profile(args.profile)
    out = []
    for m in methods.all_methods().values():
        if m.suite and (not args.suite or m.suite in args.suite):
            out += [(c, why) for c, why in m.refused_cases(prof) if _keep(args, c)]
    return [] if getattr(args, "peers", None) else out


def _keep(args: argparse.Namespace, c) -> bool:
    return (
        (not args.layer or c.layer in args.layer)
        and (not args.scheme or c.scheme in args.scheme)
        and (not args.stage or c.stage in args.stage)
        and (not args.threads or c.threads in args.threads)
        and (not args.sparsity or any(abs(c.sparsity - s) < 1e-9 for s in args.sparsity))
    )


def _select(args: argparse.Namespace) -> list:
    from .. import methods

    cases = methods.cases(args.profile, tuple(args.suite) if args.suite else None)

    def keep(c) -> bool:
        return (
            (not args.layer or c.layer in args.layer)
            and (not args.scheme or c.scheme in args.scheme)
            and (not args.stage or c.stage in args.stage)
            and (not args.threads or c.threads in args.threads)
            and (not args.sparsity or any(abs(c.sparsity - s) < 1e-9 for s in args.sparsity))
        )

    out = [c for c in cases if keep(c)]
    if getattr(args, "peers", None):  # --peers: only the cases a peer baseline applies to
        from ..peers import applies

        out = [c for c in out if applies(c)]
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from .run import run_cases
    from .table import speedup_table
    from ..measure import load_records

    cases = _select(args)
    refused = _refused(args)
    if not cases and not refused:
        print("no catalogue case matches the selection", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join([c.id for c in cases] + [f"{c.id}  (unavailable: {why})" for c, why in refused]))
        return 0
    from ..peers import peers_for

    peers = args.peers is not False
    for peer in {p.PEER: p for c in cases for p in peers_for(c)}.values() if peers else ():
        st = peer.status()
        text = st["reason"] if st["installed"] else f"{peer.PEER} is not installed: its rows say so ({st['reason']})"
        print(f"peers: {text}", file=sys.stderr)
    t0 = time.perf_counter()
    path = run_cases(cases, results_dir=Path(args.results), out=Path(args.out) if args.out else None,
                     rounds=args.rounds, progress=None if args.quiet else _progress, peers=peers,
                     peer_timeout_s=args.peer_timeout, refused=refused)
    print(speedup_table(load_records(path)))
    print(f"\n{len(cases)} cases in {time.perf_counter() - t0:.0f} s; records: {path}")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from ..measure import load_all, load_records
    from .table import speedup_table

    records, bad = [], []
    for p in map(Path, args.paths or [args.results]):
        if p.is_dir():
            recs, errors = load_all(p)
            records += recs
            bad += errors
        else:
            try:
                records += load_records(p)
            except ValueError as exc:
                bad.append((p, str(exc)))
    for path, msg in bad:
        print(f"skipped {path}: {msg}", file=sys.stderr)
    print(speedup_table(records))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from .pytest_bench import convert

    out = Path(args.out) if args.out else Path(args.results) / "pytest-benchmark" / (Path(args.json).stem + ".json")
    n = convert(Path(args.json), out)
    print(f"{n} records from {args.json} -> {out}")
    return 0


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=sorted(catalogue.PROFILES), default=None,
                   help=f"case profile (default ${catalogue.PROFILE_ENV} or quick)")
    p.add_argument("--suite", action="append", help="a method's suite (default: every method's)")
    p.add_argument("--layer", action="append", choices=sorted(catalogue.LAYERS))
    p.add_argument("--scheme", action="append")
    p.add_argument("--stage", action="append")
    p.add_argument("--sparsity", action="append", type=float)
    p.add_argument("--threads", action="append", type=int)


def _cmd_peers(args: argparse.Namespace) -> int:
    import subprocess

    from ..peers import all_peers

    rc = 0
    for name, peer in all_peers().items():
        if args.action == "install":
            rc = rc or peer.install(dry_run=args.dry_run)
            continue
        st = peer.status()
        print(st["reason"])
        if st["installed"] and args.check:
            # import in a fresh process (a peer's extension may load its own OpenMP runtime)
            rc = rc or subprocess.call([sys.executable, "-c", f"import {peer.__name__} as p; p.load()"])
        elif args.check and not st["installed"]:
            rc = 1
    return rc


def add_commands(sub) -> None:
    p = sub.add_parser("run", help="measure catalogue cases against torch-dense / torch-sparse")
    _add_selection(p)
    p.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds per case")
    p.add_argument("--results", default="results", help="results directory")
    p.add_argument("--out", help="result file (default results/<machine>/<time>-<commit>.json)")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--peers", action="store_true", default=None,
                   help="only the cases a peer baseline applies to (SparseProp: its format and stages "
                        "forward/backward/step); peers are measured by default wherever they apply")
    g.add_argument("--no-peers", dest="peers", action="store_false", help="do not run peer baselines")
    p.add_argument("--peer-timeout", type=float, default=None,
                   help="seconds a peer child may take for one case before it is killed (default 240)")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("table", help="speedup table and break-even sparsities from stored records")
    p.add_argument("paths", nargs="*", help="result files or directories (default: results/)")
    p.add_argument("--results", default="results")
    p.set_defaults(func=_cmd_table)
    p = sub.add_parser("import-benchmark", help="convert pytest-benchmark --benchmark-json output to records")
    p.add_argument("json", help="file written by pytest --benchmark-json")
    p.add_argument("--results", default="results")
    p.add_argument("--out", help="result file (default results/pytest-benchmark/<name>.json)")
    p.set_defaults(func=_cmd_import)
    p = sub.add_parser("peers", help="peer baselines (SparseProp): install or show status")
    p.add_argument("action", choices=("status", "install"), nargs="?", default="status",
                   help="install: build sparseprop==0.1.14 against the installed torch (pinned, no build isolation)")
    p.add_argument("--dry-run", action="store_true", help="print the pip commands only")
    p.add_argument("--check", action="store_true", help="status: exit 1 unless installed and importable")
    p.set_defaults(func=_cmd_peers)
