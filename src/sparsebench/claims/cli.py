"""`sparsebench validate` (added to the main parser by add_commands)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import catalogue


def _cmd_validate(args: argparse.Namespace) -> int:
    from ..harness.progress import progress
    from .data import load_claims
    from .validate import select, validate, verdict_text

    try:
        claims = load_claims(args.claims)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"validate: {exc}", file=sys.stderr)
        return 2
    if args.claim:
        unknown = set(args.claim) - {c.id for c in claims}
        if unknown:
            print(f"validate: unknown claim id(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        claims = [c for c in claims if c.id in args.claim]
    name = args.profile or os.environ.get(catalogue.PROFILE_ENV) or "quick"
    try:
        catalogue.profile(name)
    except ValueError as exc:
        print(f"validate: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for case in select(claims, name):
            print(case.id)
        return 0
    try:
        path, verdicts = validate(claims, profile_name=name, results_dir=Path(args.results), rounds=args.rounds,
                                  progress=progress(args.quiet),
                                  out=Path(args.out) if args.out else None)
    except KeyboardInterrupt:
        print("\nvalidate interrupted: the records measured so far and their verdicts are saved", file=sys.stderr)
        return 130
    except Exception as exc:  # the run itself failed (not a verdict): non-zero exit
        print(f"validate failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(verdict_text(verdicts))
    if path is not None:
        print(f"\nrecords: {path}\nverdicts: {path.with_name(path.stem + '-verdicts.md')}")
    return 0  # whatever the verdicts


def add_commands(sub) -> None:
    p = sub.add_parser("validate", help="measure what every implemented paper claim needs; print verdicts")
    p.add_argument("--profile", choices=sorted(catalogue.PROFILES), default=None,
                   help=f"case profile (default ${catalogue.PROFILE_ENV} or quick)")
    p.add_argument("--results", default="results", help="results directory")
    p.add_argument("--out", help="result file (default results/<machine>/<time>-<commit>.json)")
    p.add_argument("--claims", help="claims file (default: the one shipped in sparsebench/claims/)")
    p.add_argument("--claim", action="append", help="only this claim id (repeatable)")
    p.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds per case")
    p.add_argument("--list", action="store_true", help="list the cases the claims need and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_validate)
