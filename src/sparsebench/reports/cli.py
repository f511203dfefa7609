"""`sparsebench report` (added to the main parser by add_commands)."""

from __future__ import annotations

import argparse


def _cmd_report(args: argparse.Namespace) -> int:
    from .build import build_report

    out = build_report(args.paths or [args.results], out_root=args.out_dir, name=args.name, claims_path=args.claims,
                       compare_with=args.compare)
    print(f"report: {out / 'index.html'} (and index.md)")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("report", help="figures + claims table from stored records into reports/<name>/")
    p.add_argument("paths", nargs="*", help="result files or directories (default: results/)")
    p.add_argument("--results", default="results")
    p.add_argument("--out-dir", default="reports", help="parent folder of the report")
    p.add_argument("--name", help="report folder name (default <machine id>-<UTC time>)")
    p.add_argument("--claims", help="claims file (default: the one shipped in sparsebench/claims/)")
    p.add_argument("--compare", nargs="+", metavar="A", help="also compare these records (A: another commit or "
                                                             "machine) with the report's (B): table, CSV and plot")
    p.set_defaults(func=_cmd_report)
