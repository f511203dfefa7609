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


def select_drop(scores: torch.Tensor, ids: torch.Tensor | None, k: int, *, isa=None, threads=0) -> torch.Tensor:
    """bool flags of the k lowest (score, id); scores float32 or float64, ids int64 / int32 or None
    (the slot index: ids ascending in storage order, e.g. a CSR's positions)."""
    return torch.from_numpy(_kernels.mest_select_drop(scores, ids, int(k), isa=isa, threads=threads)).view(torch.bool)


def grow_units(kept: torch.Tensor, n_units: int, k: int, seed: int, *, isa=None, threads=0) -> torch.Tensor:
    return torch.from_numpy(_kernels.mest_grow_units(kept.contiguous(), int(n_units), int(k), int(seed), isa=isa,
                                                     threads=threads))


def grow_csr(row_ptr: torch.Tensor, col: torch.Tensor, K: int, k: int, seed: int, *, isa=None, threads=0):
    """grow_units with kept = the CSR's flat positions r * K + col, read in place."""
    return torch.from_numpy(_kernels.mest_grow_csr(row_ptr, col, int(K), int(k), int(seed), isa=isa, threads=threads))


def random_csr(rows: int, K: int, nnz: int, seed: int, *, isa=None, threads=0):
    """(row_ptr, col_idx) int32 of the sparse init's nnz random positions over rows x K."""
    rp, col = _kernels.mest_random_csr(int(rows), int(K), int(nnz), int(seed), isa=isa, threads=threads)
    return torch.from_numpy(rp), torch.from_numpy(col)


def csr_rebuild(row_ptr, col, values, drop, K: int, grown, width: int = 1, *, isa=None, threads=0):
    rp, c, v, src, _ = _kernels.mest_csr_rebuild(row_ptr, col, values.detach(), _u8(drop), int(K), grown.contiguous(),
                                                 width=int(width), isa=isa, threads=threads)
    return torch.from_numpy(rp), torch.from_numpy(c), torch.from_numpy(v), torch.from_numpy(src)


def csr_rebuild_states(row_ptr, col, values, drop, K: int, grown, states=(), width: int = 1, *,
                       with_src: bool = False, isa=None, threads=0):
    """csr_rebuild that also remaps float32 arrays shaped like values (optimizer state) in the same
    pass: (row_ptr, col, values, src or None, new states). No slot map is needed to move state."""
    rp, c, v, src, st = _kernels.mest_csr_rebuild(row_ptr, col, values.detach(), _u8(drop), int(K), grown.contiguous(),
                                                  states=[t.detach() for t in states], with_src=with_src,
                                                  width=int(width), isa=isa, threads=threads)
    return (torch.from_numpy(rp), torch.from_numpy(c), torch.from_numpy(v),
            None if src is None else torch.from_numpy(src), tuple(torch.from_numpy(t) for t in st))


def _u8(drop: torch.Tensor) -> torch.Tensor:
    drop = drop.contiguous()
    return drop.view(torch.uint8) if drop.dtype == torch.bool else drop.to(torch.uint8)
