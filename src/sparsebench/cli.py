"""The `sparsebench` command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence


def _cmd_info(args: argparse.Namespace) -> int:
    from . import kernels
    from .measure import machine_id, machine_record

    info = kernels.info()
    if args.json:
        machine = machine_record()
        json.dump({"machine_id": machine_id(machine), "kernels": info, "machine": machine}, sys.stdout, indent=2,
                  default=str)
        print()
        return 0
    omp = info["openmp"]
    lines = [
        f"CPU            {info['cpu_brand']} ({info['cpu_arch']})",
        f"ISA variants   compiled: {', '.join(info['compiled'])}",
        f"               usable:   {', '.join(info['usable'])}",
        f"               chosen:   {info['chosen'] or 'none: ' + str(info['chosen_error'])}"
        + (f"  (SPARSEBENCH_ISA={info['env']})" if info["env"] else ""),
        f"OpenMP         version {omp['version']}, max threads {omp['max_threads']}, "
        f"runtime{'s' if len(omp['runtimes']) != 1 else ''}: {', '.join(omp['runtimes']) or 'none mapped'}"
        + ("" if omp["shared_with_torch"] else "  WARNING: more than one OpenMP runtime loaded"),
        f"torch threads  {info['torch_threads']}",
        f"compiler       {info['compiler']} ({info['build_type']}{info['cxx_flags']})",
    ]
    lines += [f"  {isa:<12} {flags}" for isa, flags in info["isa_flags"].items()]
    print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparsebench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="machine, ISA variants and kernel build facts")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_info)
    from .accuracy import cli as accuracy_cli
    from .claims import cli as claims_cli
    from .harness import cli as harness_cli
    from .models import cli as models_cli
    from .reports import cli as reports_cli
    from .train import cli as train_cli

    harness_cli.add_commands(sub)
    claims_cli.add_commands(sub)
    reports_cli.add_commands(sub)
    accuracy_cli.add_commands(sub)
    train_cli.add_commands(sub)
    models_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .measure.records import ResultsWriteError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ResultsWriteError as exc:  # a full disk: say so; what was written before is intact
        print(f"sparsebench {args.command}: {exc.strerror}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
