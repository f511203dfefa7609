"""Wrappers over the C++ mutation kernels (kernels/mest): torch in, torch out, ``isa=`` and
``threads=`` on every call like every kernel. reference.py holds the same steps in PyTorch."""

from __future__ import annotations

import torch

from ... import _kernels


def slot_scores(values: torch.Tensor, grad: torch.Tensor | None = None, lam: float = 0.0, *, isa=None, threads=0):
    return torch.from_numpy(_kernels.mest_slot_scores(values.detach(), None if grad is None else grad.detach(),
                                                      lam=float(lam), isa=isa, threads=threads))


def unit_scores(e: torch.Tensor, per_unit: int, *, isa=None, threads=0) -> torch.Tensor:
    return torch.from_numpy(_kernels.mest_unit_scores(e, int(per_unit), isa=isa, threads=threads))


def select_drop(scores: torch.Tensor, ids: torch.Tensor, k: int, *, isa=None, threads=0) -> torch.Tensor:
    return torch.from_numpy(_kernels.mest_select_drop(scores, ids, int(k), isa=isa, threads=threads)).to(torch.bool)


def grow_units(kept: torch.Tensor, n_units: int, k: int, seed: int, *, isa=None, threads=0) -> torch.Tensor:
    return torch.from_numpy(_kernels.mest_grow_units(kept.contiguous(), int(n_units), int(k), int(seed), isa=isa,
                                                     threads=threads))


def csr_rebuild(row_ptr, col, values, drop, K: int, grown, *, isa=None, threads=0):
    rp, c, v, src = _kernels.mest_csr_rebuild(row_ptr, col, values.detach(), drop.to(torch.uint8).contiguous(),
                                              int(K), grown.contiguous(), isa=isa, threads=threads)
    return torch.from_numpy(rp), torch.from_numpy(c), torch.from_numpy(v), torch.from_numpy(src)
