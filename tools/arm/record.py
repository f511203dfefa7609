"""Record test vectors on x86 for the ARM tier (needs torch and an installed sparsebench).

Runs every registered op's cases (sparsebench.methods.all_ops(), op.cases()) through the op's
kernel wrapper with isa="scalar", threads=1 while every raw kernel function of
sparsebench._kernels is wrapped to record its calls; see vectors.py for what is recorded.

  python tools/arm/record.py -o build/arm/vectors/vectors.npz [--max-elements 200000]

A case is kept when its inputs have at most --max-elements elements in all (emulation is ~50x
slower). Exits non-zero if an op's kernel makes no call the recorder can see (a wrapper that
bypasses the module attribute, e.g. ``from ._kernels import f``, would escape the ARM tier).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vectors  # noqa: E402


def n_elements(x: Any) -> int:
    if isinstance(x, np.ndarray):
        return int(x.size)
    if hasattr(x, "numel"):  # a torch tensor (method) or a format object exposing numel (property)
        n = x.numel
        return int(n() if callable(n) else n)
    if isinstance(x, (tuple, list)):
        return sum(n_elements(v) for v in x)
    if isinstance(x, dict):
        return sum(n_elements(v) for v in x.values())
    return 0


class Recorder:
    """Wraps every raw kernel of the extension module while active; collects calls."""

    def __init__(self, module: Any, store: vectors.ArrayStore) -> None:
        self.module = module
        self.store = store
        self.functions = vectors.kernel_functions(module)
        self.calls: list[dict[str, Any]] | None = None

    def _wrap(self, name: str, fn: Any) -> Any:
        def recording(*args: Any, **kwargs: Any) -> Any:
            if self.calls is None:
                return fn(*args, **kwargs)
            enc = lambda v: vectors.encode(v, self.store)  # noqa: E731
            call = {"fn": name, "args": enc(list(args)), "kwargs": enc(dict(kwargs))}
            try:
                out = fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                call["raises"] = type(exc).__name__
                out = None
                raised = exc
            else:
                raised = None
            call["out"] = enc(out)
            call["args_after"] = enc(list(args))
            call["kwargs_after"] = enc({k: v for k, v in kwargs.items() if k not in ("isa", "threads")})
            self.calls.append(call)
            if raised is not None:
                raise raised
            return out

        recording.__name__ = name
        recording.__doc__ = fn.__doc__
        return recording

    def __enter__(self) -> "Recorder":
        for name, fn in self.functions.items():
            setattr(self.module, name, self._wrap(name, fn))
        return self

    def __exit__(self, *exc: Any) -> None:
        for name, fn in self.functions.items():
            setattr(self.module, name, fn)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--max-elements", type=int, default=int(os.environ.get("SB_ARM_MAX_ELEMENTS", 200_000)))
    ap.add_argument("--isa", default="scalar", help="variant that produces the recorded outputs")
    args = ap.parse_args(argv)

    from sparsebench import _kernels
    from sparsebench.registry import all_ops

    t0 = time.time()
    store = vectors.ArrayStore()
    rec = Recorder(_kernels, store)
    ops_out, errors = [], []
    kept = skipped = 0
    used: set[str] = set()
    with rec:
        for op in all_ops():
            cases_out, op_calls, op_skipped = [], 0, 0
            fns: set[str] = set()
            for case in op.cases():
                inputs = dict(case.make())
                n = n_elements(inputs)
                if n > args.max_elements:
                    op_skipped += 1
                    continue
                rec.calls = []
                try:
                    op.kernel(**inputs, isa=args.isa, threads=1)
                except Exception as exc:  # noqa: BLE001  (cross-validation tests report it)
                    errors.append(f"{op.id}/{case.id}: kernel raised {type(exc).__name__}: {exc}")
                    rec.calls = None
                    continue
                calls, rec.calls = rec.calls, None
                rule = dataclasses.asdict(case.compare or op.compare)
                cases_out.append({"id": case.id, "elements": n, "rule": rule, "calls": calls})
                op_calls += len(calls)
                fns.update(c["fn"] for c in calls)
            if cases_out and op_calls == 0 and getattr(op, "native", True):
                errors.append(
                    f"{op.id}: its kernel made no call into sparsebench._kernels that the recorder sees "
                    "(call the extension as _kernels.<fn>(...), never through a from-import)"
                )
            used |= fns
            kept += len(cases_out)
            skipped += op_skipped
            ops_out.append({"id": op.id, "functions": sorted(fns), "cases": cases_out, "skipped": op_skipped})
            print(f"recorded {op.id:40s} {len(cases_out):4d} cases, {op_calls:5d} raw calls "
                  f"({', '.join(sorted(fns)) or '-'}); {op_skipped} skipped (> {args.max_elements} elements)")
    unused = sorted(set(rec.functions) - used)
    if unused:
        print(f"WARNING: raw kernels no registered op calls (not covered by the ARM tier): {unused}")
    manifest = {
        "format": vectors.FORMAT,
        "recorded_with": {
            "isa": args.isa,
            "threads": 1,
            "machine": platform.machine(),
            "numpy": np.__version__,
            "build_info": {k: (dict(v) if hasattr(v, "items") else v) for k, v in _kernels.build_info().items()},
        },
        "max_elements": args.max_elements,
        "ops": ops_out,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    vectors.save(args.output, manifest, store)
    size = os.path.getsize(args.output)
    print(f"wrote {args.output}: {len(ops_out)} ops, {kept} cases ({skipped} skipped), "
          f"{len(store.arrays)} distinct arrays, {size / 1e6:.1f} MB, {time.time() - t0:.1f} s")
    for e in errors:
        print(f"ERROR: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
