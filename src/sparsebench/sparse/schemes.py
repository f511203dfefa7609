"""Where each scheme's format class and mask generator live (imported lazily on first use), and
the adapters that give every scheme the same (weight, sparsity) -> mask -> format interface."""

from __future__ import annotations

import torch

from . import Scheme

_BY = ("magnitude", "random")


def _seed(by: str, generator: torch.Generator | None) -> int:
    if by not in _BY:
        raise ValueError(f"by must be one of {_BY}, got {by!r}")
    if generator is None:
        return 0
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))


def unstructured() -> Scheme:
    from .csr import CSRWeight
    from .masks import unstructured_mask

    return Scheme("unstructured", make_mask=unstructured_mask, from_dense=CSRWeight.from_dense,
                  doc="CSR over (Cout, Cin*kh*kw), int32 indices; direct sparse convolution")


def block() -> Scheme:
    from .block import BlockSparseWeight
    from .structured_masks import block_mask

    def make_mask(weight, sparsity, by="magnitude", generator=None):
        bm = block_mask(tuple(weight.shape), sparsity, weight=weight if by == "magnitude" else None,
                        seed=_seed(by, generator))
        return bm.dense(), bm.sparsity

    return Scheme("block", make_mask=make_mask, from_dense=BlockSparseWeight.from_dense,
                  doc="BSR, 4x4 blocks of (output x input channels) at one tap; direct convolution")


def pattern() -> Scheme:
    from .pattern import PatternSparseWeight
    from .structured_masks import PATTERN_LIBRARY, PatternMask, pattern_mask

    def make_mask(weight, sparsity, by="magnitude", generator=None):
        pm = pattern_mask(tuple(weight.shape), sparsity, weight=weight if by == "magnitude" else None,
                          seed=_seed(by, generator))
        return pm.dense(), pm.sparsity

    def from_dense(weight, mask):
        # The mask, not the weight's zeros, says what is kept: a kept tap may hold 0.0.
        co, ci = mask.shape[:2]
        taps = torch.zeros(PATTERN_LIBRARY.shape[0], 9, dtype=torch.bool)
        taps.scatter_(1, PATTERN_LIBRARY.long(), True)
        m = mask.reshape(co, ci, 9)
        keep = m.any(-1)
        match = (m[:, :, None, :] == taps[None, None]).all(-1)  # (co, ci, NP)
        if bool((keep & ~match.any(-1)).any()):
            raise ValueError("mask has a 3x3 kernel that keeps taps matching no library pattern")
        reached = 1.0 - float(mask.sum()) / max(mask.numel(), 1)
        pm = PatternMask(tuple(mask.shape), keep, match.to(torch.int64).argmax(-1), PATTERN_LIBRARY, reached)
        return PatternSparseWeight.from_pattern_mask(pm, weight)

    def supports(shape):
        return len(shape) == 4 and tuple(shape[2:]) == (3, 3)

    return Scheme("pattern", make_mask=make_mask, from_dense=from_dense, supports=supports,
                  doc="3x3 kernels keep 4 taps of an 8-pattern library + connectivity sparsity")


def filter_() -> Scheme:
    from .filter import FilterSparseWeight
    from .structured_masks import FilterMask, filter_mask

    def make_mask(weight, sparsity, by="magnitude", generator=None):
        fm = filter_mask(tuple(weight.shape), sparsity, weight=weight if by == "magnitude" else None,
                         seed=_seed(by, generator))
        return fm.dense(), fm.sparsity

    def from_dense(weight, mask):
        per = mask.reshape(mask.shape[0], mask.shape[1], -1)
        out_idx = torch.nonzero(per.any(-1).any(1)).flatten()
        in_idx = torch.nonzero(per.any(-1).any(0)).flatten()
        fm = FilterMask(tuple(mask.shape), out_idx, in_idx, 1.0 - float(mask.sum()) / max(mask.numel(), 1))
        if not torch.equal(fm.dense(), mask.to(torch.bool)):
            raise ValueError("mask is not a filter/channel mask (kept set is not whole filters x channels)")
        return FilterSparseWeight.from_filter_mask(fm, weight)

    return Scheme("filter", make_mask=make_mask, from_dense=from_dense,
                  doc="whole output filters / input channels removed; compacted dense problem")


FACTORIES = {"unstructured": unstructured, "block": block, "pattern": pattern, "filter": filter_}
