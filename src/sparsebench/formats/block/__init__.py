"""Block sparsity: BSR of bo x bi (output x input channel) blocks at one tap, direct convolution
(format.py); block masks, with MEST-style whole rows / columns inside fixed groups (masks.py);
cross-validation ops (ops.py)."""

from __future__ import annotations

import torch

from ..base import Format
from ..common import structured_make_mask
from .format import BlockSparseWeight
from .masks import BlockMask, block_mask, block_mask_from_dense, prune_grow


def _from_mask(mask: BlockMask, weight: torch.Tensor | None = None) -> BlockSparseWeight:
    if not isinstance(mask, BlockMask):
        raise ValueError(f"the block format is built from a BlockMask, got {type(mask).__name__}")
    mask.check()
    return BlockSparseWeight.from_block_mask(mask, weight)


FORMAT = Format("block", doc="BSR, 4x4 blocks of (output x input channels) at one tap; direct convolution",
                make_mask=structured_make_mask(block_mask), from_mask=_from_mask, from_dense_mask=BlockSparseWeight.from_dense, rank=1,
                prune_grow=prune_grow, mask_from_dense=block_mask_from_dense)
