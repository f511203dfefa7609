"""Mask generators shared by the weight-sparsity schemes.

``unstructured_mask`` reaches the target exactly: ``round(sparsity * numel)`` zeros (Python's
round, half to even), chosen as the smallest scores, ties broken deterministically by the lower
flat (row-major) index first. Scores are |w| (``by="magnitude"``) or uniform draws from
``generator`` (``by="random"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ... import _kernels
from ..common import check_sparsity, prune_grow_units, unit_scores


def num_zeros(numel: int, sparsity: float) -> int:
    return int(round(check_sparsity(sparsity) * numel))


def mask_scores(weight: torch.Tensor, by: str = "magnitude", generator: torch.Generator | None = None) -> torch.Tensor:
    """float32 scores (higher = keep), shaped like weight."""
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if by == "magnitude":
        if not weight.dtype.is_floating_point:
            raise TypeError(f"weight must be floating point, got {weight.dtype}")
        if torch.isnan(weight).any():
            raise ValueError("weight contains NaN: magnitudes cannot be ranked")
        return weight.detach().abs().to(torch.float32)
    if by == "random":
        return torch.rand(weight.shape, generator=generator, dtype=torch.float32)
    raise ValueError(f"by must be 'magnitude' or 'random', got {by!r}")


def unstructured_mask(
    weight: torch.Tensor, sparsity: float, by: str = "magnitude", generator: torch.Generator | None = None
) -> tuple[torch.Tensor, float]:
    """(bool mask shaped like weight, reached sparsity): exactly round(sparsity*numel) zeros."""
    scores = mask_scores(weight, by, generator).contiguous()
    nzero = num_zeros(scores.numel(), sparsity)
    keep = torch.from_numpy(_kernels.select_smallest_mask(scores.numpy(), nzero)).to(torch.bool)
    reached = nzero / scores.numel() if scores.numel() else 0.0
    return keep, reached


def unstructured_mask_reference(
    weight: torch.Tensor, sparsity: float, by: str = "magnitude", generator: torch.Generator | None = None
) -> tuple[torch.Tensor, float]:
    """Readable PyTorch reference of unstructured_mask: stable sort of the scores."""
    scores = mask_scores(weight, by, generator).reshape(-1)
    nzero = num_zeros(scores.numel(), sparsity)
    order = torch.argsort(scores, stable=True)  # ascending; equal scores keep index order
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[order[:nzero]] = False
    reached = nzero / scores.numel() if scores.numel() else 0.0
    return keep.reshape(weight.shape), reached


@dataclass
class ElementMask:
    """Kept weights, one flag per element: the unstructured format's mask."""

    shape: tuple[int, ...]
    keep: torch.Tensor  # bool, weight shape
    sparsity: float  # reached

    def dense(self) -> torch.Tensor:
        return self.keep

    def check(self) -> None:
        """ValueError unless this is a well-formed element mask."""
        if not isinstance(self.keep, torch.Tensor) or self.keep.dtype != torch.bool:
            got = getattr(self.keep, "dtype", type(self.keep))
            raise ValueError(f"ElementMask.keep must be a bool tensor, got {got}")
        if tuple(self.keep.shape) != tuple(self.shape):
            raise ValueError(f"ElementMask.keep shape {tuple(self.keep.shape)} != shape {tuple(self.shape)}")


def element_mask(weight, sparsity: float, by: str = "magnitude", generator: torch.Generator | None = None
                 ) -> ElementMask:
    """unstructured_mask as an ElementMask; ``weight`` may be just a shape when by="random"."""
    if not isinstance(weight, torch.Tensor):
        if by != "random":
            raise ValueError("a magnitude mask needs the weight tensor, not only its shape")
        weight = torch.empty(tuple(int(v) for v in weight), dtype=torch.float32)  # shape carrier only
    keep, reached = unstructured_mask(weight, sparsity, by=by, generator=generator)
    return ElementMask(tuple(weight.shape), keep, reached)


def as_uint8(mask: Any, name: str = "mask") -> torch.Tensor:
    """A contiguous bool/uint8 mask as a uint8 tensor view (never copied)."""
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(mask)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(mask).__name__}")
    if mask.dtype not in (torch.bool, torch.uint8):
        raise TypeError(f"{name} must be bool or uint8, got {mask.dtype}")
    if not mask.is_contiguous():
        raise ValueError(f"{name} must be contiguous (sparsebench never copies silently)")
    return mask.view(torch.uint8)


def element_mask_from_dense(mask: torch.Tensor, like=None) -> ElementMask:
    """The ElementMask of a dense bool mask (every bool mask is one)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be a bool torch.Tensor")
    n = mask.numel()
    return ElementMask(tuple(mask.shape), mask.contiguous(), 1.0 - int(mask.sum()) / n if n else 0.0)


def prune_grow(sw, fraction, *, generator: torch.Generator | None = None, scores: torch.Tensor | None = None
               ) -> ElementMask:
    """MEST prune + grow, unit = one element (see common.prune_grow_units). Works on positions()
    and the element-level keep flags; no dense float tensor."""
    n = 1
    for v in sw.shape:
        n *= int(v)
    kept = sw.positions()
    sc = unit_scores(sw, scores, kept.numel(), 1)
    new, _, _ = prune_grow_units(n, kept, sc, fraction, generator)
    keep = torch.zeros(n, dtype=torch.bool)
    keep[new] = True
    return ElementMask(tuple(sw.shape), keep.reshape(sw.shape), 1.0 - new.numel() / n if n else 0.0)
