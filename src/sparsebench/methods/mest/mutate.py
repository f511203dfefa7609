"""One MEST mutation of a SparseConv2d / SparseLinear: prune the ``n_prune`` lowest-scored kept
units (score |w| + lambda * |grad w| at the kept weights, per unit its L2 norm), grow ``n_grow``
units at random among those not kept before the call (counter-based stream), zero-initialized,
the optimizer state remapped. ``impl="kernel"`` runs the scores, selection, growth and (CSR)
rebuild in C++ (kernels.py); ``impl="reference"`` runs reference.py. Both give the same mask,
values and state for the same seed (tests/test_mest_kernels.py).

Bad input raises ValueError naming the argument before anything changes (the layer's mask,
values and optimizer state are untouched).
"""

from __future__ import annotations

import torch

from ...formats.mutate import rebuild
from ...formats.unstructured.csr import CSRWeight
from ...formats import get_format
from ...profiling import stage_range
from . import kernels, reference
from .units import kept_weights, mask_of_units, stored_units

IMPLS = {"kernel": kernels, "reference": reference}


def _count(v, name: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{name} must be an int, got {type(v).__name__} {v!r}")
    if not lo <= v <= hi:
        raise ValueError(f"{name}={v} must be in [{lo}, {hi}]")
    return v


def _ops(impl: str):
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {sorted(IMPLS)}, got {impl!r}")
    return IMPLS[impl]


def _kw(impl: str, isa, threads) -> dict:
    return {"isa": isa, "threads": threads} if impl == "kernel" else {}


def plan(layer, n_prune: int, n_grow: int, *, lam: float = 0.0, grad: torch.Tensor | None = None, seed: int = 0,
         impl: str = "kernel", isa=None, threads: int = 0):
    """(new SparseWeight, src, dropped unit ids, grown unit ids): nothing on the layer changes."""
    ops = _ops(impl)
    kw = _kw(impl, isa, threads)
    sw = layer.sw
    units = stored_units(sw)
    n_kept = int(units.kept.numel())
    _count(n_prune, "n_prune", 0, n_kept)
    _count(n_grow, "n_grow", 0, units.n_units - n_kept)  # grown among units not kept before this call
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not float(lam) >= 0.0:
        raise ValueError(f"lam must be a float >= 0, got {lam!r}")
    if grad is not None:
        if not isinstance(grad, torch.Tensor) or grad.dtype != torch.float32 or tuple(grad.shape) != tuple(sw.values.shape):
            raise ValueError(f"grad must be a float32 tensor shaped like the values {tuple(sw.values.shape)}")
        grad = grad.detach().contiguous()
    if bool(torch.isnan(sw.values).any()) or (grad is not None and bool(torch.isnan(grad).any())):
        raise ValueError("values or grad contain NaN: weights cannot be ranked")
    e = ops.slot_scores(sw.values.detach(), grad if lam > 0 else None, float(lam), **kw)
    scores = ops.unit_scores(e, units.per_unit, **kw) if n_kept else torch.zeros(0, dtype=torch.float64)
    drop = ops.select_drop(scores, units.kept, n_prune, **kw)
    grown = ops.grow_units(units.kept, units.n_units, n_grow, seed, **kw)
    if sw.scheme == "unstructured":
        rp, col, vals, src = ops.csr_rebuild(sw.row_ptr, sw.col_idx, sw.values, drop, sw.K,
                                             torch.sort(grown).values, **kw)
        new_sw = CSRWeight(rp, col, vals, sw.shape, validate=False)
    else:
        new_kept = torch.sort(torch.cat([units.kept[~drop], grown])).values
        mask = mask_of_units(sw, new_kept, grown, seed ^ 0x5A5A5A5A)
        new_sw, src = rebuild(get_format(sw.scheme), sw, mask)
    return new_sw, src, torch.sort(units.kept[drop]).values, grown


def mutate(layer, n_prune: int, n_grow: int, *, optimizer=None, lam: float = 0.0, grad: torch.Tensor | None = None,
           seed: int = 0, impl: str = "kernel", isa=None, threads: int = 0) -> dict:
    """Apply one mutation (timed as the mask_update stage). Returns the layer's counts in weights
    ("kept", "pruned", "grown") and in units ("units_pruned", "units_grown")."""
    with stage_range("mask_update"):
        before = kept_weights(layer.sw)
        new_sw, src, dropped, grown = plan(layer, n_prune, n_grow, lam=lam, grad=grad, seed=seed, impl=impl, isa=isa,
                                           threads=threads)
        out = layer.install(new_sw, src, optimizer=optimizer)
    out.pop("src", None)
    out.pop("state", None)
    out.update(units_pruned=int(dropped.numel()), units_grown=int(grown.numel()), kept_before=before)
    return out
