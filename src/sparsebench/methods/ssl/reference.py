"""SSL (Wen et al., NIPS 2016) in readable PyTorch: group Lasso on the lowered weight
W (filters x Cin * kh * kw). Groups (methods.md section 3; the authors' scnn branch):
  rows      W[n, :, :, :]   a filter (output channel)
  columns   W[:, c, i, j]   a filter shape (one column of the lowered weight)
  channels  W[:, c, :, :]   an input channel
  depth     W               the whole layer (a residual branch: several layers, see nn.py)
Penalty lambda * sum_g ||w_g||_2; subgradient lambda * w_g / ||w_g|| (the authors' update);
proximal step w_g <- max(0, 1 - lr * lambda / ||w_g||) * w_g, kinds applied in the order rows,
columns, channels, depth; then weights below 1e-4 are zeroed (the authors' stabiliser).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KINDS = ("rows", "cols", "chans", "depth")
ZERO_BELOW = 1e-4


def check_lambdas(**lams: float) -> dict[str, float]:
    out = {}
    for name, v in lams.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{name} must be a float >= 0, got {type(v).__name__}")
        if not (float(v) >= 0.0) or float(v) == float("inf"):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        out[name] = float(v)
    return out


def _view3(w: torch.Tensor) -> torch.Tensor:
    """(R, C, taps): a conv weight (R, C, kh, kw) or a linear weight (R, C) with taps = 1."""
    if w.dim() == 4:
        return w.reshape(w.shape[0], w.shape[1], w.shape[2] * w.shape[3])
    if w.dim() == 2:
        return w.reshape(w.shape[0], w.shape[1], 1)
    raise ValueError(f"weight must be 2-D or 4-D, got {w.dim()}-D")


def group_norms(w: torch.Tensor, kind: str) -> torch.Tensor:
    v = _view3(w)
    if kind == "rows":
        return torch.linalg.vector_norm(v, dim=(1, 2))
    if kind == "cols":
        return torch.linalg.vector_norm(v, dim=0).reshape(-1)
    if kind == "chans":
        return torch.linalg.vector_norm(v, dim=(0, 2))
    if kind == "depth":
        return torch.linalg.vector_norm(v).reshape(1)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def penalty(w: torch.Tensor, lam_rows=0.0, lam_cols=0.0, lam_chans=0.0, lam_depth=0.0) -> torch.Tensor:
    lams = check_lambdas(lam_rows=lam_rows, lam_cols=lam_cols, lam_chans=lam_chans, lam_depth=lam_depth)
    return sum(lams[f"lam_{k}"] * group_norms(w, k).sum() for k in KINDS)


def _shrink(norm: torch.Tensor, step: float) -> torch.Tensor:
    """max(0, 1 - step / ||w_g||), 0 for an all-zero group."""
    safe = torch.where(norm > 0, norm, torch.ones_like(norm))
    return torch.where(norm > 0, torch.clamp(1.0 - step / safe, min=0.0), torch.zeros_like(norm))


def prox(w: torch.Tensor, lr: float, lam_rows=0.0, lam_cols=0.0, lam_chans=0.0, lam_depth=0.0,
         zero_below: float = ZERO_BELOW) -> torch.Tensor:
    """The proximal step of every group kind with a lambda > 0, in order, each on the weight the
    previous one left; then |w| < zero_below -> 0. Returns a new tensor."""
    lams = check_lambdas(lam_rows=lam_rows, lam_cols=lam_cols, lam_chans=lam_chans, lam_depth=lam_depth)
    v = _view3(w).clone()
    R, C, T = v.shape
    if lams["lam_rows"] > 0:
        v = v * _shrink(torch.linalg.vector_norm(v, dim=(1, 2)), lr * lams["lam_rows"]).reshape(R, 1, 1)
    if lams["lam_cols"] > 0:
        v = v * _shrink(torch.linalg.vector_norm(v, dim=0), lr * lams["lam_cols"]).reshape(1, C, T)
    if lams["lam_chans"] > 0:
        v = v * _shrink(torch.linalg.vector_norm(v, dim=(0, 2)), lr * lams["lam_chans"]).reshape(1, C, 1)
    if lams["lam_depth"] > 0 and v.numel():
        v = v * _shrink(torch.linalg.vector_norm(v).reshape(1), lr * lams["lam_depth"]).reshape(1, 1, 1)
    v = torch.where(v.abs() >= zero_below, v, torch.zeros_like(v))
    return v.reshape(w.shape)


def subgrad(w: torch.Tensor, lam_rows=0.0, lam_cols=0.0, lam_chans=0.0, lam_depth=0.0) -> torch.Tensor:
    """d/dw of the penalty: sum over kinds lambda * w / ||w_g|| (0 for all-zero groups)."""
    lams = check_lambdas(lam_rows=lam_rows, lam_cols=lam_cols, lam_chans=lam_chans, lam_depth=lam_depth)
    v = _view3(w)
    R, C, T = v.shape

    def inv(norm, lam):
        safe = torch.where(norm > 0, norm, torch.ones_like(norm))
        return torch.where(norm > 0, lam / safe, torch.zeros_like(norm))

    coef = torch.zeros_like(v)
    if lams["lam_rows"] > 0:
        coef = coef + inv(torch.linalg.vector_norm(v, dim=(1, 2)), lams["lam_rows"]).reshape(R, 1, 1)
    if lams["lam_cols"] > 0:
        coef = coef + inv(torch.linalg.vector_norm(v, dim=0), lams["lam_cols"]).reshape(1, C, T)
    if lams["lam_chans"] > 0:
        coef = coef + inv(torch.linalg.vector_norm(v, dim=(0, 2)), lams["lam_chans"]).reshape(1, C, 1)
    if lams["lam_depth"] > 0 and v.numel():
        coef = coef + inv(torch.linalg.vector_norm(v).reshape(1), lams["lam_depth"]).reshape(1, 1, 1)
    return (v * coef).reshape(w.shape)


def gather_cols(x: torch.Tensor, cols: torch.Tensor, kh: int, kw: int, stride: int = 1,
                padding: int = 0) -> torch.Tensor:
    """(N, len(cols), Ho * Wo): the im2col rows (torch's unfold) of the kept weight columns."""
    return F.unfold(x, (kh, kw), padding=padding, stride=stride)[:, cols.long(), :]


def structure(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept rows, kept columns): rows with any nonzero, columns nonzero in a kept row."""
    v = _view3(w).reshape(w.shape[0], -1)
    rows = torch.nonzero(v.abs().sum(dim=1) > 0).reshape(-1)
    cols = torch.nonzero(v[rows].abs().sum(dim=0) > 0).reshape(-1) if rows.numel() else rows
    return rows, cols


def compact_forward(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, stride: int,
                    padding: int) -> torch.Tensor:
    """The conv restricted to the kept filters: (N, kept rows, Ho, Wo), by the masked dense conv."""
    rows, _ = structure(w)
    return F.conv2d(x, w[rows], None if bias is None else bias[rows], stride=stride, padding=padding)
