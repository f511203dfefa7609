"""Test vectors for the kernel library: raw calls into sparsebench._kernels, torch-free.

The ARM tier has no aarch64 torch, so the PyTorch references cannot run there. Instead, on x86,
tools/arm/record.py runs every registered op's cases through its kernel wrapper (x86 scalar
variant, 1 thread) and records each raw call the wrapper makes into ``sparsebench._kernels``:
the function name, the positional and keyword arguments (numpy), the return value, the state
of every array argument after the call (in-place kernels) or the exception raised. On aarch64,
``replay`` calls the same functions of the cross-built extension with every requested variant
and thread count and compares with the recorded results using the op's Comparison rule.

This module needs only numpy and the extension: it is imported by the x86 recorder and by the
aarch64 runner alike, so both sides agree on the file format and the comparison.

File format (one file, numpy's npz, readable by numpy 1.x and 2.x; no pickle):
  ``manifest``: a JSON document (uint8 bytes) describing ops, cases and calls, where arrays are
  references ``{"t": "nd", "k": "a17"}`` to members of the same npz (deduplicated by content).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

FORMAT = "sparsebench-kernel-vectors/1"

# A raw kernel is a function of the extension taking both isa= and threads= keywords (see
# kernels/bindings: every kernel binding ends with kw_only isa=, threads=). Dispatch queries
# (resolve_isa, probe_threads, build_info, ...) are not kernels and are never recorded.
_KW_RE = {kw: re.compile(rf"\b{kw}\s*:") for kw in ("isa", "threads")}


def is_kernel_function(fn: Any) -> bool:
    doc = getattr(fn, "__doc__", None) or ""
    return callable(fn) and all(r.search(doc) for r in _KW_RE.values())


def kernel_functions(module: Any) -> dict[str, Callable[..., Any]]:
    """Every raw kernel of the extension module, by name (discovered, never a hand-kept list)."""
    out = {}
    for name in dir(module):
        if name.startswith("_"):
            continue
        fn = getattr(module, name)
        if is_kernel_function(fn):
            out[name] = fn
    return out


# --- encoding: JSON tree + deduplicated arrays --------------------------------------------------


class ArrayStore:
    """Content-addressed arrays: identical inputs shared by many cases are stored once."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._by_hash: dict[str, str] = {}

    def put(self, a: np.ndarray) -> str:
        a = np.ascontiguousarray(a)
        h = hashlib.sha1(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
        key = self._by_hash.get(h)
        if key is None:
            key = f"a{len(self.arrays)}"
            self.arrays[key] = a.copy()
            self._by_hash[h] = key
        return key


def encode(x: Any, store: ArrayStore) -> Any:
    """A JSON-able tree for x; numpy arrays / numpy scalars / array-likes go to the store."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return {"t": "int", "v": str(x)}  # exact for any size (seeds up to 2**64 - 1)
    if isinstance(x, float):
        return {"t": "float", "v": x.hex()}  # exact, NaN and inf included
    if isinstance(x, np.ndarray):
        return {"t": "nd", "k": store.put(x)}
    if isinstance(x, np.generic):
        return {"t": "np", "k": store.put(np.asarray(x))}
    if isinstance(x, tuple):
        return {"t": "tuple", "v": [encode(v, store) for v in x]}
    if isinstance(x, list):
        return {"t": "list", "v": [encode(v, store) for v in x]}
    if isinstance(x, dict):
        if not all(isinstance(k, str) for k in x):
            raise TypeError("only str-keyed dicts can be recorded")
        return {"t": "dict", "v": {k: encode(v, store) for k, v in x.items()}}
    # A torch tensor (or any other array-like): its numpy value. Recording only.
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return {"t": "nd", "k": store.put(x.detach().cpu().numpy())}
    raise TypeError(f"cannot record a value of type {type(x).__name__}")


def decode(x: Any, arrays: Any) -> Any:
    """The value encoded by ``encode``; arrays come back as fresh, writeable copies."""
    if x is None or isinstance(x, (bool, str)):
        return x
    t = x["t"]
    if t == "int":
        return int(x["v"])
    if t == "float":
        return float.fromhex(x["v"])
    if t == "nd":
        return np.array(arrays[x["k"]], copy=True)
    if t == "np":
        return np.asarray(arrays[x["k"]])[()]
    if t in ("tuple", "list"):
        vals = [decode(v, arrays) for v in x["v"]]
        return tuple(vals) if t == "tuple" else vals
    if t == "dict":
        return {k: decode(v, arrays) for k, v in x["v"].items()}
    raise ValueError(f"unknown encoded type {t!r}")


def save(path: str, manifest: dict[str, Any], store: ArrayStore) -> None:
    blob = np.frombuffer(json.dumps(manifest, sort_keys=True).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez_compressed(f, manifest=blob, **store.arrays)


def load(path: str) -> tuple[dict[str, Any], Any]:
    data = np.load(path, allow_pickle=False)
    manifest = json.loads(bytes(data["manifest"]).decode())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest, data


# --- comparison: the registry's Comparison rule, torch-free -------------------------------------
# Mirrors sparsebench.methods.registry.assert_agree (tests/test_arm_vectors.py checks both agree).


def _load_oracle():
    """sparsebench.oracle (numpy only): installed on x86, loaded by path from the source tree in
    the aarch64 sysroot, where sparsebench itself is not installed."""
    try:
        from sparsebench import oracle
    except ImportError:
        import importlib.util
        import os
        import sys

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "sparsebench", "oracle.py")
        spec = importlib.util.spec_from_file_location("sparsebench_oracle", path)
        oracle = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = oracle  # dataclasses look the module up while the class is built
        spec.loader.exec_module(oracle)
    return oracle


_oracle = _load_oracle()
Rule = _oracle.Comparison  # the op's comparison rule, as recorded (to_json / from_json)


def agree(k: Any, r: Any, rule: Rule, where: str = "") -> None:
    """Raise AssertionError describing the first disagreement of k (got) with r (recorded)."""
    _oracle.agree(k, r, rule, where, names=("got", "recorded"))


# --- replay -------------------------------------------------------------------------------------


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    calls: int = 0
    failures: list[str] = field(default_factory=list)


def replay_call(module: Any, call: dict[str, Any], arrays: Any, rule: Rule, isa: str, threads: int, where: str) -> None:
    """Replay one recorded raw call with isa= / threads= replaced; raise AssertionError on mismatch."""
    fn = getattr(module, call["fn"], None)
    assert fn is not None, f"{where}: the extension has no function {call['fn']!r}"
    args = decode(call["args"], arrays)
    kwargs = decode(call["kwargs"], arrays)
    kwargs["isa"], kwargs["threads"] = isa, threads
    try:
        got = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001  (compared with what x86 raised)
        if call.get("raises") == type(exc).__name__:
            return
        raise AssertionError(f"{where}: raised {type(exc).__name__}: {exc}") from None
    assert "raises" not in call, f"{where}: expected {call['raises']}, returned normally"
    agree(got, decode(call["out"], arrays), rule, f"{where} -> return")
    # Array arguments after the call: in-place kernels must write what x86 wrote, and inputs
    # must stay untouched.
    agree(list(args), decode(call["args_after"], arrays), rule, f"{where} -> args after call")
    after_kw = decode(call["kwargs_after"], arrays)
    agree({k: kwargs[k] for k in after_kw}, after_kw, rule, f"{where} -> kwargs after call")


def replay(
    module: Any,
    manifest: dict[str, Any],
    arrays: Any,
    isas: Iterable[str],
    threads_list: Iterable[int],
    log: Callable[[str], None] = print,
    max_failures_shown: int = 5,
) -> Tally:
    """Replay every recorded case of every op for each (isa, threads); print per op and variant."""
    total = Tally()
    isas, threads_list = list(isas), list(threads_list)
    for op in manifest["ops"]:
        for isa in isas:
            for threads in threads_list:
                t = Tally()
                for case in op["cases"]:
                    rule = Rule.from_json(case["rule"])
                    where = f"{op['id']}[{isa}/t{threads}]/{case['id']}"
                    try:
                        for j, call in enumerate(case["calls"]):
                            t.calls += 1
                            replay_call(module, call, arrays, rule, isa, threads, f"{where} call {j} {call['fn']}")
                        t.passed += 1
                    except AssertionError as exc:
                        t.failed += 1
                        t.failures.append(str(exc))
                status = "ok" if not t.failed else "FAILED"
                log(
                    f"{op['id']:40s} isa={isa:7s} threads={threads}  {t.passed:4d} passed {t.failed:4d} failed"
                    f"  ({len(op['cases'])} cases, {t.calls} raw calls: {', '.join(op['functions']) or '-'})  {status}"
                )
                for msg in t.failures[:max_failures_shown]:
                    log(f"    FAIL {msg}")
                if len(t.failures) > max_failures_shown:
                    log(f"    ... and {len(t.failures) - max_failures_shown} more")
                total.passed += t.passed
                total.failed += t.failed
                total.calls += t.calls
                total.failures += t.failures
    return total
