"""Unstructured weight sparsity: CSR (int32 indices) and direct sparse convolution (csr.py),
element masks by magnitude or at random (masks.py), cross-validation ops (ops.py)."""

from __future__ import annotations

import torch

from ..base import Format
from .csr import CSRWeight
from .masks import ElementMask, element_mask, element_mask_from_dense, prune_grow


def _from_mask(mask: ElementMask, weight: torch.Tensor | None = None) -> CSRWeight:
    if not isinstance(mask, ElementMask):
        raise ValueError(f"the unstructured format is built from an ElementMask, got {type(mask).__name__}")
    mask.check()
    return CSRWeight.from_element_mask(mask, weight)


def _from_dense_mask(weight: torch.Tensor, mask: torch.Tensor) -> CSRWeight:
    return CSRWeight.from_dense(weight, mask)


FORMAT = Format("unstructured", doc="CSR over (Cout, Cin*kh*kw), int32 indices; direct sparse convolution",
                make_mask=element_mask, from_mask=_from_mask, from_dense_mask=_from_dense_mask, rank=0,
                prune_grow=prune_grow, mask_from_dense=element_mask_from_dense)
