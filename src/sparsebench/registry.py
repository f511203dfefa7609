"""The one registry of cross-validation ops, shared by tests, the ARM tier and reports.

An op pairs a readable PyTorch reference with its C++ kernel. It declares the package that owns
it (a format or a method), the paper it comes from, the training stages it touches, the input
cases to cross-validate on (random and adversarial: odd sizes, empty, all-zero, sparsity 0 and 1)
and how outputs must agree (sparsebench.oracle). Ops live in the ``ops`` module of their format
or method package (``formats/<name>/ops.py``, ``methods/<name>/ops.py``, or the shared
``formats/ops.py``); all_ops() imports every such module, so nothing lists them by hand.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import torch

from .oracle import Comparison, agree
from .stages import STAGES



@dataclass(frozen=True)
class Paper:
    key: str  # short id used in claims and reports, e.g. "ye2020"
    title: str
    venue: str
    url: str = ""


@dataclass(frozen=True)
class Case:
    """One input for an op: an id readable in test names, and a factory of keyword arguments."""

    id: str
    make: Callable[[], Mapping[str, Any]]
    # Per-case comparison when the tolerance depends on the shape (reduction length).
    compare: Comparison | None = None


@dataclass(frozen=True)
class Op:
    method: str  # the owning format or method package
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
        raise ValueError(f"op {op.id}: unknown stages {bad} (known: {', '.join(STAGES)})")
    if op.id in _OPS:
        raise ValueError(f"op {op.id} registered twice")
    _OPS[op.id] = op
    return op


OPS_PACKAGES = ("sparsebench.formats", "sparsebench.methods")


def _import_ops_modules() -> None:
    """Import every module named ``ops`` under the format and method packages (registers them)."""
    for root in OPS_PACKAGES:
        pkg = importlib.import_module(root)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=root + "."):
            if info.name.rsplit(".", 1)[-1] == "ops":
                importlib.import_module(info.name)


def all_ops() -> list[Op]:
    _import_ops_modules()
    return list(_OPS.values())


def get(op_id: str) -> Op:
    all_ops()
    try:
        return _OPS[op_id]
    except KeyError:
        raise KeyError(f"unknown op {op_id!r}; registered: {sorted(_OPS)}") from None


def owners() -> list[str]:
    """The format and method packages that registered ops."""
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
    """Raise AssertionError describing the first disagreement between kernel and reference
    (torch tensors compared as numpy arrays by the one oracle, sparsebench.oracle)."""
    agree(_to_numpy(kernel_out), _to_numpy(ref_out), rule, where)
