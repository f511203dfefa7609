"""Pattern sparsity (PatDNN / MEST): each kept 3x3 kernel keeps the 4 taps of one library pattern,
plus connectivity sparsity (whole kernels removed); grouped-by-pattern direct convolution
(format.py), pattern masks (masks.py), cross-validation ops (ops.py)."""

from __future__ import annotations

import torch

from ..base import Format
from ..common import structured_make_mask
from .format import PatternSparseWeight
from .masks import MIN_SPARSITY, PATTERN_LIBRARY, PatternMask, pattern_mask, pattern_mask_from_dense, prune_grow


def _from_mask(mask: PatternMask, weight: torch.Tensor | None = None) -> PatternSparseWeight:
    if not isinstance(mask, PatternMask):
        raise ValueError(f"the pattern format is built from a PatternMask, got {type(mask).__name__}")
    mask.check()
    return PatternSparseWeight.from_pattern_mask(mask, weight)


def _mask_from_dense(mask: torch.Tensor, like: PatternSparseWeight | None = None) -> PatternMask:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be a bool torch.Tensor")
    if mask.ndim != 4 or tuple(mask.shape[2:]) != (3, 3):
        raise ValueError(f"pattern masks describe (Cout, Cin, 3, 3) weights, got {tuple(mask.shape)}")
    return pattern_mask_from_dense(mask, PATTERN_LIBRARY if like is None else like.library)


def _from_dense_mask(weight: torch.Tensor, mask: torch.Tensor) -> PatternSparseWeight:
    # The mask, not the weight's zeros, says what is kept: a kept tap may hold 0.0.
    return PatternSparseWeight.from_pattern_mask(pattern_mask_from_dense(mask), weight)


FORMAT = Format("pattern", doc="3x3 kernels keep 4 taps of an 8-pattern library + connectivity sparsity",
                make_mask=structured_make_mask(pattern_mask), from_mask=_from_mask, from_dense_mask=_from_dense_mask,
                min_sparsity=MIN_SPARSITY, kernel_sizes=((3, 3),), linear=False, rank=2,
                prune_grow=prune_grow, mask_from_dense=_mask_from_dense)
