"""Mask updates shared by every format: rebuild a SparseWeight on a new mask and carry the values
(and any per-position state: optimizer buffers) of the surviving positions over.

Everything works on ``positions()`` (the flat dense index of each values slot) with a sort and a
searchsorted: no dense weight-sized tensor. The new SparseWeight comes from
``fmt.from_mask(new_mask, None)`` (zero values, values-sized allocations only), so its caches
(CSR transposed structure, packed layouts, kept-channel flags) are fresh.
"""

from __future__ import annotations

import torch

from .base import Format, Mask, SparseWeight


def remap(old_sw: SparseWeight, new_sw: SparseWeight) -> torch.Tensor:
    """int64 src, one entry per slot of ``new_sw.values``: the slot of the same dense position in
    ``old_sw.values``, or -1 where the position is new (grown) or the slot is padding."""
    if tuple(old_sw.shape) != tuple(new_sw.shape):
        raise ValueError(f"remap needs equal weight shapes, got {tuple(old_sw.shape)} and {tuple(new_sw.shape)}")
    old_pos = old_sw.positions().to(torch.int64).reshape(-1)
    new_pos = new_sw.positions().to(torch.int64).reshape(-1)
    real = old_pos >= 0
    slots = torch.nonzero(real).flatten()
    sorted_pos, order = torch.sort(old_pos[real])
    sorted_slot = slots[order]
    src = torch.full(new_pos.shape, -1, dtype=torch.int64)
    if sorted_pos.numel() == 0 or new_pos.numel() == 0:
        return src
    at = torch.searchsorted(sorted_pos, new_pos).clamp_(max=sorted_pos.numel() - 1)
    hit = (sorted_pos[at] == new_pos) & (new_pos >= 0)
    src[hit] = sorted_slot[at[hit]]
    return src


def grown_slots(new_sw: SparseWeight, src: torch.Tensor) -> torch.Tensor:
    """bool like new_sw.values: real (not padding) slots with no source (grown positions)."""
    return (src < 0) & (new_sw.positions().reshape(-1) >= 0)


def remap_tensor(t: torch.Tensor, src: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """A new tensor shaped like src: t[src] where src >= 0, ``fill`` elsewhere (same dtype)."""
    t = t.detach().reshape(-1)
    out = torch.full(src.shape, fill, dtype=t.dtype)
    have = src >= 0
    out[have] = t[src[have]]
    return out


def _check_grown(grown, n_grown: int) -> float | torch.Tensor:
    if isinstance(grown, torch.Tensor):
        if grown.dtype != torch.float32 or grown.ndim != 1:
            raise ValueError(f"grown must be a float or a 1-D float32 tensor, got {grown.dtype} {tuple(grown.shape)}")
        if grown.numel() != n_grown:
            raise ValueError(f"grown holds {grown.numel()} values but {n_grown} slots are grown")
        return grown.detach()
    if isinstance(grown, bool) or not isinstance(grown, (int, float)):
        raise ValueError(f"grown must be a float or a 1-D float32 tensor, got {type(grown).__name__}")
    return float(grown)


def rebuild(fmt: Format, sw: SparseWeight, new_mask: Mask, *, grown: float | torch.Tensor = 0.0
            ) -> tuple[SparseWeight, torch.Tensor]:
    """(new SparseWeight on ``new_mask``, src = remap(sw, new)): surviving positions keep their
    values, grown ones get ``grown`` (a float, or one float32 per grown slot in storage order),
    padding slots stay 0. ``sw`` is not modified."""
    if tuple(new_mask.shape) != tuple(sw.shape):
        raise ValueError(f"mask shape {tuple(new_mask.shape)} != weight shape {tuple(sw.shape)}")
    new_sw = fmt.from_mask(new_mask, None)
    src = remap(sw, new_sw)
    g = grown_slots(new_sw, src)
    gv = _check_grown(grown, int(g.sum()))
    with torch.no_grad():
        vals = new_sw.values
        have = src >= 0
        vals[have] = sw.values.detach()[src[have]]
        if isinstance(gv, torch.Tensor) or gv != 0.0:
            vals[g] = gv
    return new_sw, src
