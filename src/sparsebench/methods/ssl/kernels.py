"""Wrappers over the SSL C++ kernels (kernels/ssl): group norms, the fused group-Lasso update
(proximal or subgradient) and the im2col column gather. Torch or numpy in; every call takes
``isa=None, threads=0``; bad input raises TypeError / ValueError naming the argument."""

from __future__ import annotations

import numpy as np
import torch

from ... import _kernels
from ...formats.lowered import gather_cols  # noqa: F401  (the column gather, shared)
from .reference import KINDS, ZERO_BELOW, check_lambdas


def _lams(lam_rows, lam_cols, lam_chans, lam_depth) -> dict[str, float]:
    return check_lambdas(lam_rows=lam_rows, lam_cols=lam_cols, lam_chans=lam_chans, lam_depth=lam_depth)


def prox_(w, lr: float, lam_rows=0.0, lam_cols=0.0, lam_chans=0.0, lam_depth=0.0, zero_below: float = ZERO_BELOW,
          *, isa=None, threads: int = 0):
    """In place: the proximal step of every kind (rows, columns, channels, depth), then zeroing."""
    _kernels.ssl_prox(w, lr=float(lr), zero_below=float(zero_below), isa=isa, threads=threads,
                      **_lams(lam_rows, lam_cols, lam_chans, lam_depth))
    return w


def prox(w, lr: float, lam_rows=0.0, lam_cols=0.0, lam_chans=0.0, lam_depth=0.0, zero_below: float = ZERO_BELOW,
         *, isa=None, threads: int = 0):
    """prox_ on a copy (the form the cross-validation compares)."""
    out = w.clone() if isinstance(w, torch.Tensor) else np.array(w, copy=True)
    return prox_(out, lr, lam_rows, lam_cols, lam_chans, lam_depth, zero_below, isa=isa, threads=threads)


def add_subgrad_(w, grad, lam_rows=0.0, lam_cols=0.0, lam_chans=0.0, lam_depth=0.0, *, isa=None, threads: int = 0):
    """In place on grad: += the penalty's subgradient lambda * w / ||w_g|| of every kind."""
    _kernels.ssl_subgrad(w, grad, isa=isa, threads=threads, **_lams(lam_rows, lam_cols, lam_chans, lam_depth))
    return grad


def subgrad(w, lam_rows=0.0, lam_cols=0.0, lam_chans=0.0, lam_depth=0.0, *, isa=None, threads: int = 0):
    g = torch.zeros_like(w) if isinstance(w, torch.Tensor) else np.zeros_like(w)
    return add_subgrad_(w, g, lam_rows, lam_cols, lam_chans, lam_depth, isa=isa, threads=threads)


def group_norms(w, kind: str, *, isa=None, threads: int = 0):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    out = _kernels.ssl_group_norms(w, KINDS.index(kind), isa=isa, threads=threads)  # (also checks w)
    return torch.from_numpy(out) if isinstance(w, torch.Tensor) else out
