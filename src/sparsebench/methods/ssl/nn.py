"""Training with SSL: the group-Lasso term on every conv / linear weight of a model.

``apply_ssl(model, lam, kinds)`` registers, per weight, a gradient hook that adds the penalty's
subgradient (the authors' update: gradient += lambda * w / ||w_g||, the fused kernel) and a
forward pre-hook that zeroes |w| < 1e-4 (the authors zero after each update; before the next
forward is the same point of the loop). ``prox_step(model, lr)`` is the proximal alternative,
called after optimizer.step(). ``structured_sparsity(model)`` counts what was learned.
"""

from __future__ import annotations

import torch
from torch import nn

from . import kernels
from .reference import ZERO_BELOW, check_lambdas, structure

ATTR = "_ssl_lams"


def _layers(model: nn.Module, skip_last: bool = True):
    mods = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return mods[:-1] if skip_last and len(mods) > 1 else mods  # the classifier's rows are the classes


def apply_ssl(model: nn.Module, lam: float, kinds=("rows", "cols"), *, mode: str = "subgrad",
              threads: int = 0) -> nn.Module:
    """Group Lasso of strength ``lam`` on ``kinds`` groups of every conv / hidden linear weight."""
    check_lambdas(lam=lam)
    if mode not in ("subgrad", "prox"):
        raise ValueError(f"mode must be 'subgrad' or 'prox', got {mode!r}")
    lams = {f"lam_{k}": float(lam) for k in kinds}
    for m in _layers(model):
        setattr(m, ATTR, lams)
        if mode != "subgrad" or lam == 0:
            continue
        w = m.weight

        def hook(g, w=w, lams=lams):
            g2 = g.contiguous().clone()
            return kernels.add_subgrad_(w.detach(), g2, threads=threads, **lams)

        w.register_hook(hook)

        def zero_small(mod, args):
            with torch.no_grad():
                kernels.prox_(mod.weight.data, 0.0, zero_below=ZERO_BELOW, threads=threads)

        m.register_forward_pre_hook(zero_small)
    return model


@torch.no_grad()
def prox_step(model: nn.Module, lr: float, *, threads: int = 0) -> None:
    for m in model.modules():
        lams = getattr(m, ATTR, None)
        if lams:
            kernels.prox_(m.weight.data, lr, threads=threads, **lams)


def structured_sparsity(model: nn.Module) -> dict:
    """Per layer: row (filter) and column (filter-shape) sparsity of exact zeros, and the
    fraction of the layer's multiply-adds a compaction keeps."""
    out = {}
    for name, m in model.named_modules():
        if getattr(m, ATTR, None) is None:
            continue
        w = m.weight.detach()
        rows, cols = structure(w)
        R, K = w.shape[0], w[0].numel()
        out[name] = {"row_sparsity": 1 - rows.numel() / R, "col_sparsity": 1 - cols.numel() / K,
                     "flop_fraction": rows.numel() * cols.numel() / (R * K),
                     "weight_sparsity": float((w == 0).double().mean())}
    return out
