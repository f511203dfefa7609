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

import numpy as np
import torch

from ... import rng
from ...formats.block.masks import BlockMask, _sparsity_of
from ...formats.filter.masks import FilterMask
from ...formats.pattern.masks import PatternMask

MEST_BLOCK = (4, 1)  # 4 consecutive filters x 1 column of the lowered weight (the authors' block scheme)


class Units:
    """A layer's units: ``n_units`` (every unit, kept or not), ``n_kept`` (stored), ``per_unit``
    value slots per stored unit, ``unit_weights`` real weights per unit (for ratios in weights),
    and ``kept``: the int64 unit ids of the stored units in storage order, built on each access
    (8 bytes per stored unit: the counts alone need no list, and a holder of ``Units`` holds none)."""

    __slots__ = ("n_units", "n_kept", "per_unit", "unit_weights", "_kept")

    def __init__(self, n_units: int, n_kept: int, per_unit: int, unit_weights: float, kept):
        self.n_units, self.n_kept, self.per_unit, self.unit_weights = n_units, n_kept, per_unit, unit_weights
        self._kept = kept

    @property
    def kept(self) -> torch.Tensor:
        return self._kept()

    def __repr__(self) -> str:
        return (f"Units(n_units={self.n_units}, n_kept={self.n_kept}, per_unit={self.per_unit}, "
                f"unit_weights={self.unit_weights})")


def stored_units(sw) -> Units:
    scheme = sw.scheme
    shape = tuple(int(v) for v in sw.shape)
    if scheme == "unstructured":
        n = int(np.prod(shape))
        return Units(n, int(sw.nnz), 1, 1.0, lambda: sw.positions().to(torch.int64))
    if scheme == "block":
        bo, bi = sw.block
        nbr = len(sw.row_ptr) - 1
        ncols = -(-shape[1] // bi) * (int(np.prod(shape[2:])) if len(shape) == 4 else 1)
        n_units = nbr * ncols

        def kept():
            r = torch.repeat_interleave(torch.arange(nbr), torch.diff(sw.row_ptr.long()))
            return r * ncols + sw.col.long()
        return Units(n_units, int(sw.col.numel()), bo * bi, float(np.prod(shape)) / max(n_units, 1), kept)
    if scheme == "pattern":
        def kept():
            kco, _ = sw._kernel_index()
            return kco.long() * shape[1] + sw.kci.long()
        return Units(shape[0] * shape[1], int(sw.kci.numel()), 4, 4.0, kept)
    if scheme == "filter":
        per = sw.values.numel() // sw.out_idx.numel() if sw.out_idx.numel() else 0
        per_filter = float(np.prod(shape[1:]))
        return Units(shape[0], int(sw.out_idx.numel()), max(per, 1), per_filter, lambda: sw.out_idx.to(torch.int64))
    raise ValueError(f"scheme {scheme!r} has no MEST unit view")


def kept_weights(sw) -> int:
    if sw.scheme == "unstructured":
        return int(sw.nnz)  # a CSR stores no padding
    if sw.scheme == "block" and not (int(sw.shape[0]) % sw.block[0] or int(sw.shape[1]) % sw.block[1]):
        return int(sw.values.numel())  # no partial edge block: no padding
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
