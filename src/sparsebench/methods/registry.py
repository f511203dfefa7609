"""The one registry of methods and their ops, shared by tests, benchmarks and reports.

An op pairs a readable PyTorch reference with its C++ kernel. It declares the paper it comes
from, the training stages it touches, the input cases to cross-validate on (random and
adversarial: odd sizes, empty, all-zero, sparsity 0 and 1) and how outputs must agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

STAGES = ("forward", "backward_data", "weight_grad", "update", "front_end")


@dataclass(frozen=True)
class Paper:
    key: str  # short id used in claims and reports, e.g. "ye2020"
    title: str
    venue: str
    url: str = ""


@dataclass(frozen=True)
class Comparison:
    """How a kernel's outputs must agree with the reference.

    exact: bit-identical (stochastic ops with the counter-based RNG, selections, integer outputs).
    Otherwise |kernel - ref| <= atol + rtol * |ref| elementwise, where the tolerance must be
    justified (dtype, reduction length): say why in ``why``.
    """

    exact: bool = False
    rtol: float = 0.0
    atol: float = 0.0
    why: str = ""

    @staticmethod
    def float32_reduction(length: int, scale: float = 1.0, why: str = "") -> "Comparison":
        """Tolerance for float32 sums of `length` terms in a different order (FMA, blocking):
        error grows like sqrt(length) * eps in the typical case; 8x margin."""
        eps = float(np.finfo(np.float32).eps)
        tol = 8.0 * eps * math.sqrt(max(length, 1))
        return Comparison(rtol=tol, atol=tol * scale, why=why or f"float32 sums of {length} terms, reordered")


@dataclass(frozen=True)
class Case:
    """One input for an op: an id readable in test names, and a factory of keyword arguments."""

    id: str
    make: Callable[[], Mapping[str, Any]]
    # Per-case comparison when the tolerance depends on the shape (reduction length).
    compare: Comparison | None = None


@dataclass(frozen=True)
class Op:
    method: str
    name: str
    paper: Paper
    reference: Callable[..., Any]
    kernel: Callable[..., Any]  # same arguments as reference, plus isa= and threads=
    cases: Callable[[], Iterable[Case]]
    compare: Comparison
    stages: tuple[str, ...]
    stochastic: bool = False
    # False when the "kernel" is PyTorch/Python code with no ISA variants (format conversions,
    # compacted dense problems): cross-validated here, but nothing native for the ARM tier to check.
    native: bool = True
    doc: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method}/{self.name}"


_OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    bad = [s for s in op.stages if s not in STAGES]
    if bad:
        raise ValueError(f"op {op.id}: unknown stages {bad} (known: {STAGES})")
    if op.id in _OPS:
        raise ValueError(f"op {op.id} registered twice")
    _OPS[op.id] = op
    return op


def all_ops() -> list[Op]:
    from . import _load_all  # noqa: F401  (importing registers every method module)

    return list(_OPS.values())


def get(op_id: str) -> Op:
    all_ops()
    try:
        return _OPS[op_id]
    except KeyError:
        raise KeyError(f"unknown op {op_id!r}; registered: {sorted(_OPS)}") from None


def methods() -> list[str]:
    return sorted({op.method for op in all_ops()})


# --- comparing outputs ------------------------------------------------------------------------


def _to_numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (tuple, list)):
        return type(x)(_to_numpy(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    return x


def assert_agree(kernel_out: Any, ref_out: Any, rule: Comparison, where: str = "") -> None:
    """Raise AssertionError describing the first disagreement between kernel and reference."""
    k, r = _to_numpy(kernel_out), _to_numpy(ref_out)
    if isinstance(r, dict):
        assert isinstance(k, dict) and set(k) == set(r), f"{where}: keys {sorted(k)} != {sorted(r)}"
        for key in r:
            assert_agree(k[key], r[key], rule, f"{where}[{key}]")
        return
    if isinstance(r, (tuple, list)):
        assert isinstance(k, (tuple, list)) and len(k) == len(r), f"{where}: length {len(k)} != {len(r)}"
        for i, (kv, rv) in enumerate(zip(k, r)):
            assert_agree(kv, rv, rule, f"{where}[{i}]")
        return
    if isinstance(r, np.ndarray) or isinstance(k, np.ndarray):
        k, r = np.asarray(k), np.asarray(r)
        assert k.shape == r.shape, f"{where}: shape {k.shape} != {r.shape}"
        assert k.dtype == r.dtype, f"{where}: dtype {k.dtype} != {r.dtype}"
        if rule.exact or not np.issubdtype(r.dtype, np.floating):
            if not np.array_equal(k, r, equal_nan=np.issubdtype(r.dtype, np.floating)):
                bad = np.argwhere(k != r)
                first = tuple(bad[0]) if bad.size else ()
                raise AssertionError(
                    f"{where}: {len(bad)} of {r.size} elements differ (exact rule); first at {first}: "
                    f"kernel {k[first]!r} vs reference {r[first]!r}"
                )
            return
        err = np.abs(k.astype(np.float64) - r.astype(np.float64))
        lim = rule.atol + rule.rtol * np.abs(r.astype(np.float64))
        if not np.all(err <= lim):
            i = np.unravel_index(np.argmax(err - lim), err.shape)
            raise AssertionError(
                f"{where}: max excess error at {i}: kernel {k[i]!r} vs reference {r[i]!r} "
                f"(rtol={rule.rtol:.3g}, atol={rule.atol:.3g}; {rule.why})"
            )
        return
    # scalars
    if rule.exact or isinstance(r, (int, np.integer)):
        assert k == r, f"{where}: kernel {k!r} != reference {r!r} (exact rule)"
    else:
        assert abs(k - r) <= rule.atol + rule.rtol * abs(r), (
            f"{where}: kernel {k!r} vs reference {r!r} (rtol={rule.rtol:.3g}, atol={rule.atol:.3g}; {rule.why})"
        )
