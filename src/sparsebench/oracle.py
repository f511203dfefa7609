"""The one comparison oracle: how a kernel's outputs must agree with a reference.

numpy only (no torch, nothing else from sparsebench), so the same rules run in the test suite
and in the ARM tier's torch-free replay of recorded test vectors (tools/arm/vectors.py loads
this file by path when sparsebench is not installed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Comparison", "agree"]


@dataclass(frozen=True)
class Comparison:
    """exact: bit-identical (stochastic ops with the counter-based RNG, selections, integer
    outputs; NaN equals NaN). Otherwise |got - ref| <= atol + rtol * |ref| elementwise, where the
    tolerance must be justified (dtype, reduction length): say why in ``why``."""

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

    def to_json(self) -> dict[str, Any]:
        return {"exact": self.exact, "rtol": self.rtol, "atol": self.atol, "why": self.why}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Comparison":
        return cls(bool(d["exact"]), float(d["rtol"]), float(d["atol"]), str(d.get("why", "")))


def agree(got: Any, ref: Any, rule: Comparison, where: str = "", names: tuple[str, str] = ("kernel", "reference")
          ) -> None:
    """Raise AssertionError describing the first disagreement of ``got`` with ``ref`` (nested
    dicts, lists and tuples of arrays and scalars; None for in-place kernels)."""
    g_name, r_name = names
    if isinstance(ref, dict):
        assert isinstance(got, dict) and set(got) == set(ref), f"{where}: keys {sorted(got)} != {sorted(ref)}"
        for key in ref:
            agree(got[key], ref[key], rule, f"{where}[{key}]", names)
        return
    if isinstance(ref, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(ref), f"{where}: length mismatch"
        for i, (gv, rv) in enumerate(zip(got, ref)):
            agree(gv, rv, rule, f"{where}[{i}]", names)
        return
    if isinstance(ref, np.ndarray) or isinstance(got, np.ndarray):
        g, r = np.asarray(got), np.asarray(ref)
        assert g.shape == r.shape, f"{where}: shape {g.shape} != {r.shape}"
        assert g.dtype == r.dtype, f"{where}: dtype {g.dtype} != {r.dtype}"
        floating = np.issubdtype(r.dtype, np.floating)
        both_nan = (np.isnan(g) & np.isnan(r)) if floating else np.zeros(r.shape, bool)
        if rule.exact or not floating:
            bad = np.argwhere(~((g == r) | both_nan))
            if bad.size:
                first = tuple(bad[0])
                raise AssertionError(f"{where}: {len(bad)} of {r.size} elements differ (exact rule); first at "
                                     f"{first}: {g_name} {g[first]!r} vs {r_name} {r[first]!r}")
            return
        err = np.abs(g.astype(np.float64) - r.astype(np.float64))
        lim = rule.atol + rule.rtol * np.abs(r.astype(np.float64))
        ok = (err <= lim) | both_nan | (g == r)  # g == r: equal infinities (their difference is nan)
        if not np.all(ok):
            i = np.unravel_index(np.argmax(np.where(ok, -np.inf, err - lim)), err.shape)
            raise AssertionError(f"{where}: max excess error at {i}: {g_name} {g[i]!r} vs {r_name} {r[i]!r} "
                                 f"(rtol={rule.rtol:.3g}, atol={rule.atol:.3g}; {rule.why})")
        return
    if ref is None or got is None:
        assert got is None and ref is None, f"{where}: {g_name} {got!r} vs {r_name} {ref!r}"
        return
    if isinstance(ref, float) and isinstance(got, float) and (math.isnan(ref) and math.isnan(got) or got == ref):
        return  # equal, infinities of one sign included (inf - inf is nan)
    # exact: integers, and non-numeric leaves an op may return (a scheme name, a flag)
    if rule.exact or isinstance(ref, (int, np.integer)) or not isinstance(ref, (float, np.floating)):
        assert got == ref, f"{where}: {g_name} {got!r} != {r_name} {ref!r} (exact rule)"
    else:
        assert abs(got - ref) <= rule.atol + rule.rtol * abs(ref), (
            f"{where}: {g_name} {got!r} vs {r_name} {ref!r} (rtol={rule.rtol:.3g}, atol={rule.atol:.3g}; {rule.why})")
