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

import numpy as np
import torch

from ...formats.mutate import rebuild, remap_tensor
from ...formats.block.format import BlockSparseWeight
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


def _check(layer, n_prune: int, n_grow: int, lam, grad):
    """Every argument checked before anything is computed: (units, grad or None)."""
    sw = layer.sw
    units = stored_units(sw)
    _count(n_prune, "n_prune", 0, units.n_kept)
    _count(n_grow, "n_grow", 0, units.n_units - units.n_kept)  # grown among units not kept before this call
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not float(lam) >= 0.0:
        raise ValueError(f"lam must be a float >= 0, got {lam!r}")
    if grad is not None:
        if not isinstance(grad, torch.Tensor) or grad.dtype != torch.float32 or tuple(grad.shape) != tuple(sw.values.shape):
            raise ValueError(f"grad must be a float32 tensor shaped like the values {tuple(sw.values.shape)}")
        grad = grad.detach().contiguous()
    if bool(torch.isnan(sw.values).any()) or (grad is not None and bool(torch.isnan(grad).any())):
        raise ValueError("values or grad contain NaN: weights cannot be ranked")
    return units, grad


LEAN = ("unstructured", "block")  # schemes stored as rows of sorted units: a CSR, a BSR


def _rows_of_units(sw):
    """(row_ptr, col, K, per_unit) of a scheme stored as rows of units with strictly increasing
    columns (unit id = r * K + col, ascending in storage order): a CSR (one weight per unit) or a
    BSR (one block per unit, K = the block grid's columns)."""
    if sw.scheme == "unstructured":
        return sw.row_ptr, sw.col_idx, sw.K, 1
    shape = tuple(int(v) for v in sw.shape)
    bo, bi = sw.block
    ncols = -(-shape[1] // bi) * (int(np.prod(shape[2:])) if len(shape) == 4 else 1)
    return sw.row_ptr, sw.col, ncols, bo * bi


def _plan_lean(sw, n_prune: int, n_grow: int, lam: float, grad, seed: int, isa, threads, states=(),
               with_src: bool = True):
    """The CSR / BSR mutation on the kernels, lean: float32 slot scores (per block their float64
    squared L2 norm), and since unit ids ascend in storage order, the (score, id) order is the
    (score, slot) order: no unit id list. The selection's uint8 flags, the growth merged over the
    structure in place, the rebuild remapping ``states`` in the same pass (no slot map unless
    ``with_src``). Per kept weight (CSR): 4 B of scores (freed before the growth) + 1 B of flags,
    then the new CSR and states. Returns (new weight, src or None, dropped unit ids sorted, grown
    unit ids in draw order, new states)."""
    row_ptr, col, K, per = _rows_of_units(sw)
    e = kernels.slot_scores(sw.values.detach(), grad if lam > 0 else None, float(lam), isa=isa, threads=threads)
    if per > 1:
        e = kernels.unit_scores(e, per, isa=isa, threads=threads)  # (the slot scores are freed here)
    drop = kernels.select_drop(e, None, n_prune, isa=isa, threads=threads)
    del e
    grown = kernels.grow_csr(row_ptr, col, K, n_grow, seed, isa=isa, threads=threads)
    rp, new_col, vals, src, new_states = kernels.csr_rebuild_states(row_ptr, col, sw.values, drop, K,
                                                                    torch.sort(grown).values, states, per,
                                                                    with_src=with_src, isa=isa, threads=threads)
    slots = torch.nonzero(drop).flatten()  # ascending: unit ids ascending
    del drop
    rows = torch.searchsorted(row_ptr.long(), slots, right=True) - 1
    dropped = rows * K + col[slots].long()
    if sw.scheme == "unstructured":
        return CSRWeight(rp, new_col, vals, sw.shape, validate=False), src, dropped, grown, new_states
    new_sw = BlockSparseWeight(sw.shape, sw.block, rp, new_col, vals)
    if src is not None:  # slot map -> entry map (like the values), as formats.mutate.remap gives
        src = torch.where((src >= 0)[:, None], src[:, None] * per + torch.arange(per), -1).reshape(-1)
    co, ci = int(sw.shape[0]), int(sw.shape[1])
    if co % sw.block[0] or ci % sw.block[1]:  # edge blocks: their padding entries stay 0
        pad = new_sw.positions() < 0
        with torch.no_grad():
            new_sw.values[pad] = 0.0
            for t in new_states:
                t[pad] = 0.0
        if src is not None:
            src[pad] = -1
    return new_sw, src, dropped, grown, new_states


def plan(layer, n_prune: int, n_grow: int, *, lam: float = 0.0, grad: torch.Tensor | None = None, seed: int = 0,
         impl: str = "kernel", isa=None, threads: int = 0):
    """(new SparseWeight, src, dropped unit ids, grown unit ids): nothing on the layer changes."""
    ops = _ops(impl)
    kw = _kw(impl, isa, threads)
    sw = layer.sw
    units, grad = _check(layer, n_prune, n_grow, lam, grad)
    if sw.scheme in LEAN and impl == "kernel":
        new_sw, src, dropped, grown, _ = _plan_lean(sw, n_prune, n_grow, lam, grad, seed, isa, threads)
        return new_sw, src, dropped, grown
    kept = units.kept
    e = ops.slot_scores(sw.values.detach(), grad if lam > 0 else None, float(lam), **kw)
    if units.n_kept == 0:
        scores = torch.zeros(0, dtype=torch.float64)
    elif units.per_unit == 1 and impl == "kernel":
        scores = e  # float32 -> float64 is exact and monotone: the same selection
    else:
        scores = ops.unit_scores(e, units.per_unit, **kw)
    del e
    drop = ops.select_drop(scores, kept, n_prune, **kw)
    del scores
    grown = ops.grow_units(kept, units.n_units, n_grow, seed, **kw)
    if sw.scheme == "unstructured":
        rp, col, vals, src = ops.csr_rebuild(sw.row_ptr, sw.col_idx, sw.values, drop, sw.K,
                                             torch.sort(grown).values, **kw)
        new_sw = CSRWeight(rp, col, vals, sw.shape, validate=False)
    else:
        new_kept = torch.sort(torch.cat([kept[~drop], grown])).values
        mask = mask_of_units(sw, new_kept, grown, seed ^ 0x5A5A5A5A)
        del new_kept
        new_sw, src = rebuild(get_format(sw.scheme), sw, mask)
    return new_sw, src, torch.sort(kept[drop]).values, grown


def _commit(layer, new_sw, optimizer, new_state: dict) -> None:
    """Install a weight built by _plan_lean with its already remapped optimizer state: install's
    weight swap without its int64 slot map and position lists (8 B and more per kept slot)."""
    if optimizer is not None and layer.values in optimizer.state:
        optimizer.state[layer.values].update(new_state)
    layer.swap_weight(new_sw)


def _mutate_lean(layer, n_prune, n_grow, *, optimizer, lam, grad, seed, isa, threads) -> dict:
    sw = layer.sw
    _, grad = _check(layer, n_prune, n_grow, lam, grad)
    shape = tuple(layer.values.shape)
    st = optimizer.state.get(layer.values, {}) if optimizer is not None else {}
    same = {k: v for k, v in st.items() if isinstance(v, torch.Tensor) and tuple(v.shape) == shape}
    f32 = {k: v for k, v in same.items() if v.dtype == torch.float32 and v.is_contiguous()}
    others = {k: v for k, v in same.items() if k not in f32}  # moved through the slot map
    # Everything is checked: what the old weight holds beyond its arrays goes before the new ones
    # are made (the commit would drop it): the gradient (a ``grad`` argument stays referenced) and
    # the CSR's cached transposed structure for backward-data (rebuilt on demand).
    layer.values.grad = None
    cache = getattr(sw, "_trans", None)
    if isinstance(cache, dict):
        cache.clear()
    new_sw, src, dropped, grown, new_states = _plan_lean(sw, n_prune, n_grow, lam, grad, seed, isa, threads,
                                                         states=list(f32.values()), with_src=bool(others))
    new_state = dict(zip(f32, new_states))
    new_state.update({k: remap_tensor(v, src) for k, v in others.items()})
    del src
    _commit(layer, new_sw, optimizer, new_state)
    if sw.scheme == "unstructured":
        w_kept, w_pruned, w_grown = int(new_sw.nnz), int(dropped.numel()), int(grown.numel())
    else:  # real weights of the dropped and grown blocks (edge blocks hold fewer)
        w_kept = kept_weights(new_sw)
        w_pruned, w_grown = _block_weights(sw, dropped), _block_weights(sw, grown)
    return {"kept": w_kept, "pruned": w_pruned, "grown": w_grown,
            "units_pruned": int(dropped.numel()), "units_grown": int(grown.numel())}


def _block_weights(sw, units: torch.Tensor) -> int:
    """Real weights of the given units (ids r * ncols + c) of a BSR."""
    _, _, ncols, _ = _rows_of_units(sw)
    r, c = units // ncols, units % ncols
    return int(BlockSparseWeight._real(sw.shape, sw.block, r, c).sum())


def mutate(layer, n_prune: int, n_grow: int, *, optimizer=None, lam: float = 0.0, grad: torch.Tensor | None = None,
           seed: int = 0, impl: str = "kernel", isa=None, threads: int = 0) -> dict:
    """Apply one mutation (timed as the mask_update stage). Returns the layer's counts in weights
    ("kept", "pruned", "grown") and in units ("units_pruned", "units_grown")."""
    with stage_range("mask_update"):
        before = kept_weights(layer.sw)
        if layer.sw.scheme in LEAN and _ops(impl) is kernels:
            out = _mutate_lean(layer, n_prune, n_grow, optimizer=optimizer, lam=lam, grad=grad, seed=seed, isa=isa,
                              threads=threads)
            out["kept_before"] = before
            return out
        new_sw, src, dropped, grown = plan(layer, n_prune, n_grow, lam=lam, grad=grad, seed=seed, impl=impl, isa=isa,
                                           threads=threads)
        out = layer.install(new_sw, src, optimizer=optimizer)
    out.pop("src", None)
    out.pop("state", None)
    out.update(units_pruned=int(dropped.numel()), units_grown=int(grown.numel()), kept_before=before)
    return out
