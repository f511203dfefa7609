"""Each scheme's mutation unit, seen the same way by the mutation: a layer's stored units are
``per_unit`` consecutive value slots each, with a unit id in [0, n_units), and a new kept set of
unit ids becomes the scheme's Mask (or, for CSR, is merged in C++ by kernels.csr_rebuild).

  unstructured  one weight; id = flat dense position
  block         one BSR block; MEST's block scheme uses (4, 1) blocks: one column of the lowered
                weight (one input channel at one tap) inside a group of 4 consecutive filters
  pattern       one 3x3 kernel (co, ci) with its 4-tap pattern; a grown kernel draws its pattern
  filter        one output filter (kept input channels unchanged)
Only unit-level tensors are made here (no dense weight, no dense mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ... import rng
from ...formats.block.masks import BlockMask, _sparsity_of
from ...formats.filter.masks import FilterMask
from ...formats.pattern.masks import PatternMask

MEST_BLOCK = (4, 1)  # 4 consecutive filters x 1 column of the lowered weight (the authors' block scheme)


@dataclass(frozen=True)
class Units:
    n_units: int  # every unit of the layer, kept or not
    kept: torch.Tensor  # int64 unit ids of the stored units, storage order
    per_unit: int  # value slots per stored unit
    unit_weights: float  # real weights per unit (for ratios given in weights)


def stored_units(sw) -> Units:
    scheme = sw.scheme
    shape = tuple(int(v) for v in sw.shape)
    if scheme == "unstructured":
        n = int(np.prod(shape))
        return Units(n, sw.positions().to(torch.int64), 1, 1.0)
    if scheme == "block":
        bo, bi = sw.block
        nbr = len(sw.row_ptr) - 1
        ncols = -(-shape[1] // bi) * (int(np.prod(shape[2:])) if len(shape) == 4 else 1)
        r = torch.repeat_interleave(torch.arange(nbr), torch.diff(sw.row_ptr.long()))
        n_units = nbr * ncols
        return Units(n_units, r * ncols + sw.col.long(), bo * bi, float(np.prod(shape)) / max(n_units, 1))
    if scheme == "pattern":
        kco, _ = sw._kernel_index()
        return Units(shape[0] * shape[1], kco.long() * shape[1] + sw.kci.long(), 4, 4.0)
    if scheme == "filter":
        per = sw.values.numel() // sw.out_idx.numel() if sw.out_idx.numel() else 0
        per_filter = float(np.prod(shape[1:]))
        return Units(shape[0], sw.out_idx.to(torch.int64), max(per, 1), per_filter)
    raise ValueError(f"scheme {scheme!r} has no MEST unit view")


def kept_weights(sw) -> int:
    return int((sw.positions() >= 0).sum())


def mask_of_units(sw, new_kept_sorted: torch.Tensor, grown: torch.Tensor, seed: int):
    """The scheme's Mask holding the units ``new_kept_sorted`` (ascending); ``grown`` (draw order)
    are the newly grown ones (pattern: each draws a library pattern, counter-based stream ``seed``)."""
    scheme = sw.scheme
    shape = tuple(int(v) for v in sw.shape)
    if scheme == "block":
        bm = sw.mask_object()
        keep = torch.zeros(bm.keep.numel(), dtype=torch.bool)
        keep[new_kept_sorted] = True
        keep = keep.reshape(bm.keep.shape)
        return BlockMask(shape, bm.block, keep, _sparsity_of(shape, bm.block, keep))
    if scheme == "pattern":
        pm = sw.mask_object()
        co, ci = shape[0], shape[1]
        keep = torch.zeros(co * ci, dtype=torch.bool)
        keep[new_kept_sorted] = True
        pattern = pm.pattern.clone().reshape(-1)
        if grown.numel():
            u = torch.from_numpy(rng.uniform(seed, grown.numel()))
            pattern[grown] = (u * pm.library.shape[0]).long().clamp_(max=pm.library.shape[0] - 1)
        pattern[~keep] = 0
        n = co * ci
        reached = 1.0 - 4.0 * new_kept_sorted.numel() / (9.0 * n) if n else 0.0
        return PatternMask(shape, keep.reshape(co, ci), pattern.reshape(co, ci), pm.library, reached)
    if scheme == "filter":
        co, ci = shape[0], shape[1]
        reached = 1.0 - new_kept_sorted.numel() * sw.in_idx.numel() / (co * ci) if co * ci else 0.0
        return FilterMask(shape, new_kept_sorted.to(torch.int64), sw.in_idx.clone(), reached)
    raise ValueError(f"scheme {scheme!r}: no unit mask (unstructured is rebuilt by csr_rebuild)")
