"""Replay recorded kernel test vectors against a built extension; numpy only, no torch.

  python tools/arm/replay.py VECTORS.npz [--kernels PATH/_kernels*.so] [--isa neon,scalar]
                             [--threads 1,2] [--require neon]

--kernels: the extension file to load standalone (the cross-built aarch64 one under qemu);
without it, the installed sparsebench._kernels. --isa: variants to replay (default: every
usable variant of that build). --require: variants that must be among them (the ARM tier
requires neon, so a build that silently lost its NEON variant fails).
Prints one line per op and variant, then a pytest-style summary; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vectors  # noqa: E402


def load_extension(path: str | None):
    if not path:
        from sparsebench import _kernels  # sparsebench/__init__ is torch-free

        return _kernels
    spec = importlib.util.spec_from_file_location("_kernels", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vectors")
    ap.add_argument("--kernels", default=None)
    ap.add_argument("--isa", default=None, help="comma-separated variants (default: all usable)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--require", default="", help="comma-separated variants that must be replayed")
    args = ap.parse_args(argv)

    t0 = time.time()
    k = load_extension(args.kernels)
    usable = list(k.usable_isas())
    isas = args.isa.split(",") if args.isa else usable
    threads = [int(t) for t in args.threads.split(",")]
    manifest, arrays = vectors.load(args.vectors)
    rec = manifest["recorded_with"]
    print(f"platform: {platform.machine()}  python {platform.python_version()}  numpy {vectors.np.__version__}")
    print(f"extension: compiled={list(k.compiled_isas())} usable={usable} default={k.resolve_isa(None)}")
    print(f"vectors: {args.vectors}, recorded on {rec['machine']} with isa={rec['isa']} threads={rec['threads']}, "
          f"cases with <= {manifest['max_elements']} input elements")
    print(f"replaying isa={isas} threads={threads}")
    missing = [r for r in args.require.split(",") if r and r not in isas]
    not_usable = [i for i in isas if i not in usable]
    if missing or not_usable:
        print(f"ERROR: required variants not replayed: {missing}; requested but not usable: {not_usable}")
        return 2
    recorded_fns = {c["fn"] for op in manifest["ops"] for case in op["cases"] for c in case["calls"]}
    absent = sorted(recorded_fns - set(vectors.kernel_functions(k)))
    if absent:
        print(f"ERROR: the extension lacks recorded kernel functions {absent} (stale build or vectors?)")
        return 2

    total = vectors.replay(k, manifest, arrays, isas, threads)
    skipped = sum(op.get("skipped", 0) for op in manifest["ops"])
    print(f"{total.calls} raw calls replayed; {skipped} registry cases not recorded (input size limit)")
    print(f"==== {total.passed} passed, {total.failed} failed in {time.time() - t0:.1f}s ====")
    return 1 if total.failed or total.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
