"""Filter / channel sparsity: whole output filters or input channels removed, a compacted dense
problem (format.py), L1-ranked filter / channel masks (masks.py), cross-validation ops (ops.py)."""

from __future__ import annotations

import torch

from ..base import Format
from ..common import structured_make_mask
from .format import FilterSparseWeight
from .masks import FilterMask, filter_mask, filter_mask_from_dense, prune_grow


def _from_mask(mask: FilterMask, weight: torch.Tensor | None = None) -> FilterSparseWeight:
    if not isinstance(mask, FilterMask):
        raise ValueError(f"the filter format is built from a FilterMask, got {type(mask).__name__}")
    mask.check()
    return FilterSparseWeight.from_filter_mask(mask, weight)


def _from_dense_mask(weight: torch.Tensor, mask: torch.Tensor) -> FilterSparseWeight:
    return FilterSparseWeight.from_filter_mask(filter_mask_from_dense(mask), weight)


FORMAT = Format("filter", doc="whole output filters / input channels removed; compacted dense problem",
                make_mask=structured_make_mask(filter_mask), from_mask=_from_mask, from_dense_mask=_from_dense_mask, rank=3,
                prune_grow=prune_grow, mask_from_dense=filter_mask_from_dense)
