"""`sparsebench run` and `sparsebench table`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import catalogue
from .progress import progress


def _profile(args: argparse.Namespace):
    """The profile a run covers: the named one, its layers replaced by --layer / --shape /
    --shapes-file when any is given (a user's shapes run exactly like catalogue layers)."""
    import dataclasses

    from .. import shapes

    prof = catalogue.profile(args.profile)
    own = [shapes.parse(s).name for s in getattr(args, "shape", None) or []]
    if getattr(args, "shapes_file", None):
        own += [layer.name for layer in shapes.load_file(args.shapes_file)]
    if own:
        prof = dataclasses.replace(prof, layers=tuple(dict.fromkeys([*(args.layer or []), *own])))
    return prof


def _refused(args: argparse.Namespace) -> list:
    """(case, reason) of the selection that a method cannot build (a format that cannot hold a
    layer's geometry): recorded as unavailable, not dropped."""
    from .. import methods

    prof = _profile(args)
    layers = _layers(args, prof)
    out = []
    for m in methods.all_methods().values():
        if m.suite and (not args.suite or m.suite in args.suite):
            out += [(c, why) for c, why in m.refused_cases(prof) if _keep(args, c, layers)]
    return [] if getattr(args, "peers", None) else out


def _layers(args: argparse.Namespace, prof) -> set:
    """The layers a selection keeps: the profile's own when --shape / --shapes-file replaced them."""
    own = prof.layers != catalogue.profile(args.profile).layers
    return set(prof.layers) if own else set(args.layer or ())


def _keep(args: argparse.Namespace, c, layers: set) -> bool:
    return (
        (not layers or c.layer in layers)
        and (not args.scheme or c.scheme in args.scheme)
        and (not args.stage or c.stage in args.stage)
        and (not args.threads or c.threads in args.threads)
        and (not args.sparsity or any(abs(c.sparsity - s) < 1e-9 for s in args.sparsity))
    )


def _select(args: argparse.Namespace) -> list:
    from .. import methods

    prof = _profile(args)
    cases = methods.cases(prof, tuple(args.suite) if args.suite else None)
    layers = _layers(args, prof)
    out = [c for c in cases if _keep(args, c, layers)]
    if getattr(args, "peers", None):  # --peers: only the cases a peer baseline applies to
        from ..peers import applies

        out = [c for c in out if applies(c)]
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    import dataclasses

    from .run import run_cases
    from .table import speedup_table
    from ..measure import load_records

    from .. import methods
    from ..shapes import ShapeError, is_spec

    try:
        cases = _select(args)
        prof = _profile(args)
        refused = _refused(args)
    except ShapeError as exc:  # nothing is measured or written
        print(f"run: {exc}", file=sys.stderr)
        return 2
    own = [name for name in prof.layers if is_spec(name)]
    if own:  # say which scheme does not support what on the user's shapes
        scheme_sel = set(args.scheme or [])
        for m in methods.all_methods().values():
            for line in m.refusals(dataclasses.replace(prof, layers=tuple(own))):
                if not scheme_sel or line.split(" ", 1)[0] in scheme_sel:
                    print(f"note: {line}", file=sys.stderr)
    if not cases and not refused:
        print("no case matches the selection", file=sys.stderr)
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
                     rounds=args.rounds, progress=progress(args.quiet), peers=peers,
                     peer_timeout_s=args.peer_timeout, memory=args.memory, baseline_layout=args.baseline_layout,
                     refused=refused)
    records = load_records(path)
    print(speedup_table(records, baseline_layout=args.baseline_layout))
    _method_tables(records)
    print(f"\n{len(cases)} cases in {time.perf_counter() - t0:.0f} s; records: {path}")
    return 0


def _load(paths) -> list[dict]:
    """Records of result files and folders; a corrupted file is reported with its path and skipped."""
    from ..measure import load_all, load_records

    records, bad = [], []
    for p in map(Path, paths):
        if p.is_dir():
            recs, errors = load_all(p)
            records += recs
            bad += errors
        elif not p.exists():
            bad.append((p, "no such file or folder"))
        else:
            try:
                records += load_records(p)
            except ValueError as exc:
                bad.append((p, str(exc)))
    for path, msg in bad:
        print(f"skipped {path}: {msg}", file=sys.stderr)
    return records


def _cmd_table(args: argparse.Namespace) -> int:
    from .table import render

    records = _load(args.paths or [args.results])
    print(render(records, args.format, baseline_layout=args.baseline_layout))
    if args.format == "text":
        _method_tables(records)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare, text

    old, new = _load([args.old]), _load([args.new])
    if not old or not new:
        print(f"compare: no records in {args.old if not old else args.new}", file=sys.stderr)
        return 2
    try:
        impls = None if args.all_impls else tuple(args.impl or ("sparsebench",))
        cmp = compare(old, new, threshold=args.threshold, impls=impls, by=args.by)
    except ValueError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    print(text(cmp))
    return 1 if cmp.regressions else 0


def _method_tables(records: list) -> None:
    """Each method's own tables (Method.tables), after the speedup table; a method that cannot
    load here (no torch, no kernels) is skipped with a note."""
    try:
        from ..methods import all_methods

        methods = all_methods().values()
    except Exception as exc:  # noqa: BLE001
        print(f"\n(method tables skipped: {type(exc).__name__}: {exc})")
        return
    for m in methods:
        try:
            tables = m.tables(records)
        except Exception as exc:  # noqa: BLE001
            tables = [f"{m.name}: its table failed: {type(exc).__name__}: {exc}"]
        for text in tables:
            print("\n" + text)


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
    p.add_argument("--shape", action="append", metavar="SPEC",
                   help="your own layer, repeatable: conv:cin=64,cout=64,k=3,stride=1,pad=1,hw=56,batch=8 or "
                        "linear:in=1024,out=4096,batch=256 (runs like a catalogue layer)")
    p.add_argument("--shapes-file", metavar="TOML", help="a list of shapes: shapes = [\"conv:...\"] and/or "
                                                         "[[conv]] / [[linear]] tables with the --shape keys")
    p.add_argument("--scheme", action="append")
    p.add_argument("--stage", action="append")
    p.add_argument("--sparsity", action="append", type=float)
    p.add_argument("--threads", action="append", type=int)


def _add_layout(p: argparse.ArgumentParser) -> None:
    from .table import LAYOUT_CHOICES

    p.add_argument("--baseline-layout", choices=LAYOUT_CHOICES, default="best",
                   help="torch-dense layout the speedups are taken against: the faster of NCHW and channels_last "
                        "(best, default) or one of them; every speedup in the table names it")


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
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the per-case memory measurement in a fresh child process")
    _add_layout(p)
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("table", help="speedup table and break-even sparsities from stored records")
    p.add_argument("paths", nargs="*", help="result files or directories (default: results/)")
    p.add_argument("--results", default="results")
    p.add_argument("--format", choices=("text", "md", "csv", "json"), default="text",
                   help="text (the terminal table), md, csv or json: the same rows and columns")
    _add_layout(p)
    p.set_defaults(func=_cmd_table)
    p = sub.add_parser("compare", help="per-case ratio of medians between two record sets; exit 1 on a regression")
    p.add_argument("old", help="result file or folder (the reference: an older commit, another machine)")
    p.add_argument("new", help="result file or folder to compare with it")
    p.add_argument("--threshold", type=float, default=1.10,
                   help="new/old time ratio beyond which a case is flagged (default 1.10; improvements below 1/x)")
    p.add_argument("--impl", action="append", default=None,
                   help="implementation(s) compared (default: sparsebench, ours)")
    p.add_argument("--all-impls", action="store_true", help="compare every implementation, baselines included")
    p.add_argument("--by", choices=("time", "speedup"), default="time",
                   help="time: new/old median seconds (same machine, quiet runs); speedup: old/new speedup over the "
                        "torch-dense timing of each run (robust to a busier run; across machines, compares ratios)")
    p.set_defaults(func=_cmd_compare, impl=None)
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
