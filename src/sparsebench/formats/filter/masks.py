"""Filter / channel masks: whole output filters or input channels kept."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..common import _choose, _conv_shape, check_sparsity, prune_grow_units, unit_scores

@dataclass
class FilterMask:
    """Kept output filters and input channels (sorted int64 indices)."""

    shape: tuple[int, ...]
    out_idx: torch.Tensor
    in_idx: torch.Tensor
    sparsity: float

    def dense(self) -> torch.Tensor:
        co, ci = self.shape[0], self.shape[1]
        rows = torch.zeros(co, dtype=torch.bool)
        rows[self.out_idx] = True
        cols = torch.zeros(ci, dtype=torch.bool)
        cols[self.in_idx] = True
        full = rows[:, None] & cols[None, :]
        return full.reshape(co, ci, *([1] * (len(self.shape) - 2))).expand(self.shape).contiguous()

    def check(self) -> None:
        """ValueError unless out_idx / in_idx are sorted unique in-range integer indices."""
        shape = tuple(int(v) for v in self.shape)
        if len(shape) not in (2, 4):
            raise ValueError(f"filter masks describe 2-D or 4-D weights, got {shape}")
        for name, idx, n in (("out_idx", self.out_idx, shape[0]), ("in_idx", self.in_idx, shape[1])):
            if not isinstance(idx, torch.Tensor) or idx.dtype.is_floating_point or idx.dtype == torch.bool \
                    or idx.ndim != 1:
                raise ValueError(f"FilterMask.{name} must be a 1-D integer tensor")
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
                raise ValueError(f"FilterMask.{name} out of range [0, {n})")
            if idx.numel() > 1 and not bool((idx[1:] > idx[:-1]).all()):
                raise ValueError(f"FilterMask.{name} must be strictly increasing")


def filter_mask(shape, sparsity: float, *, weight: torch.Tensor | None = None, seed: int = 0,
                mode: str = "filters") -> FilterMask:
    """Remove whole output filters ("filters", L1-norm ranking as in Li et al.), whole input
    channels ("channels"), or both with the same kept fraction sqrt(1 - s) ("both")."""
    s = check_sparsity(sparsity)
    shape = tuple(int(v) for v in shape)
    co, ci = shape[0], shape[1]
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(f"weight shape {tuple(weight.shape)} != shape {shape}")
    if mode not in ("filters", "channels", "both"):
        raise ValueError(f"mode must be 'filters', 'channels' or 'both', got {mode!r}")
    a = weight.detach().abs().float() if weight is not None else None
    frac_o = 1.0 - s if mode == "filters" else (1.0 if mode == "channels" else (1.0 - s) ** 0.5)
    frac_i = 1.0 - s if mode == "channels" else (1.0 if mode == "filters" else (1.0 - s) ** 0.5)

    def pick(n, frac, score, sd):
        if frac >= 1.0:
            return torch.arange(n)
        sc = score if score is not None else torch.zeros(n)
        keep = _choose(sc, torch.ones(n), frac * n, score is not None, sd)
        return torch.nonzero(keep).flatten()

    so = a.sum(dim=tuple(d for d in range(a.ndim) if d != 0)) if a is not None else None
    si = a.sum(dim=tuple(d for d in range(a.ndim) if d != 1)) if a is not None else None
    out_idx = pick(co, frac_o, so, seed)
    in_idx = pick(ci, frac_i, si, seed + 1)
    reached = 1.0 - (len(out_idx) * len(in_idx)) / (co * ci) if co * ci else 0.0
    return FilterMask(shape, out_idx.long(), in_idx.long(), reached)


def filter_mask_from_dense(mask: torch.Tensor, like=None) -> FilterMask:
    """The FilterMask of a dense bool mask that keeps whole filters x channels (ValueError otherwise)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.ndim not in (2, 4):
        raise ValueError("mask must be a 2-D or 4-D bool torch.Tensor")
    per = mask.reshape(mask.shape[0], mask.shape[1], -1)
    out_idx = torch.nonzero(per.any(-1).any(1)).flatten()
    in_idx = torch.nonzero(per.any(-1).any(0)).flatten()
    fm = FilterMask(tuple(mask.shape), out_idx, in_idx, 1.0 - float(mask.sum()) / max(mask.numel(), 1))
    if not torch.equal(fm.dense(), mask.to(torch.bool)):
        raise ValueError("mask is not a filter/channel mask (kept set is not whole filters x channels)")
    return fm


def prune_grow(sw, fraction, *, generator: torch.Generator | None = None, scores: torch.Tensor | None = None
               ) -> FilterMask:
    """MEST prune + grow, unit = one output filter (see common.prune_grow_units); in_idx unchanged.
    The score of a filter is over its stored (kept input channel) weights."""
    out_idx = sw.out_idx
    per = sw.values.numel() // out_idx.numel() if out_idx.numel() else 0
    sc = unit_scores(sw, scores, out_idx.numel(), per)
    new, _, _ = prune_grow_units(int(sw.shape[0]), out_idx, sc, fraction, generator)
    co, ci = int(sw.shape[0]), int(sw.shape[1])
    reached = 1.0 - new.numel() * sw.in_idx.numel() / (co * ci) if co * ci else 0.0
    return FilterMask(tuple(sw.shape), new, sw.in_idx.clone(), reached)
