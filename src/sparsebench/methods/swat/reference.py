"""SWAT reference formulas in plain PyTorch (readable, sort-based: independent of the kernels'
radix / sampled select). methods.md section 5:

  TopK(t, k)        keep the k largest |t_i|; ties at the k-th value: the lowest flat index first
                    (a stable descending sort of |t| lists equal values in index order)
  forward           y  = conv(x, TopK(W))
  stored activation    X~ = TopK(x) (compressed between forward and backward)
  weight gradient   dW = conv2d_weight(X~, dy)       (linear: dy^T @ X~)
  backward-data     dx = conv2d_input(TopK(W), dy)   (linear: dy @ TopK(W))
  channel variant   TopK over the per-(out, in) kernel L1 norms ||W[o, i, :, :]||_1
"""

from __future__ import annotations

import torch


def _check_finite(t: torch.Tensor, name: str) -> None:
    if bool(torch.isnan(t).any()):
        raise ValueError(f"{name} contains NaN: the top-K of |{name}| is undefined")


def kth_largest_abs(x: torch.Tensor, k: int) -> tuple[float, int, int]:
    """(threshold = k-th largest |x|, #|x| > threshold, #|x| == threshold) by a full sort."""
    a = x.detach().reshape(-1).abs()
    if not 1 <= k <= a.numel():
        raise ValueError(f"k must be in [1, numel = {a.numel()}], got {k}")
    _check_finite(a, "x")
    t = torch.sort(a, descending=True).values[k - 1]
    return float(t), int((a > t).sum()), int((a == t).sum())


def topk_mask(x: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask (x's shape) of exactly k kept elements: the k largest |x|, ties by lowest index."""
    a = x.detach().reshape(-1).abs()
    if not 0 <= k <= a.numel():
        raise ValueError(f"k must be in [0, numel = {a.numel()}], got {k}")
    _check_finite(a, "x")
    order = torch.sort(a, descending=True, stable=True).indices
    m = torch.zeros(a.numel(), dtype=torch.bool)
    m[order[:k]] = True
    return m.reshape(x.shape)


def keep_count(numel: int, sparsity: float) -> int:
    """Kept elements at ``sparsity``: round((1 - s) * numel), at least 1 when numel > 0."""
    if numel == 0:
        return 0
    return max(1, min(numel, int(round((1.0 - float(sparsity)) * numel))))


def kernel_l1_norms(w: torch.Tensor) -> torch.Tensor:
    """(Cout, Cin) L1 norm of every kernel W[o, i, :, :]."""
    return torch.linalg.vector_norm(w.detach().flatten(2), ord=1, dim=2)


def channel_topk_mask(w: torch.Tensor, k_kernels: int) -> torch.Tensor:
    """Weight-shaped mask keeping the k_kernels (out, in) kernels of largest L1 norm (ties: lowest
    (out, in) index first)."""
    keep = topk_mask(kernel_l1_norms(w), k_kernels)
    return keep[:, :, None, None].expand_as(w).clone()


def compress(x: torch.Tensor, mask: torch.Tensor, cols: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row CSR (rowptr int64, col int32, vals) of x * mask viewed as rows of ``cols`` elements."""
    flat, m = x.detach().reshape(-1), mask.reshape(-1)
    n = flat.numel()
    rows = -(-n // cols)
    idx = torch.nonzero(m).flatten()
    r = idx // cols
    rowptr = torch.zeros(rows + 1, dtype=torch.int64)
    rowptr[1:] = torch.cumsum(torch.bincount(r, minlength=rows), 0)
    return rowptr, (idx - r * cols).to(torch.int32), flat[idx].clone()


def conv_weight_grad(x_sparse: torch.Tensor, dy: torch.Tensor, weight_shape, stride: int, padding: int) -> torch.Tensor:
    """dW of conv2d on the densified sparse input (torch's own conv2d_weight)."""
    return torch.nn.grad.conv2d_weight(x_sparse, tuple(weight_shape), dy, stride=stride, padding=padding)


def linear_weight_grad(x_sparse: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """dW (out, in) = dy^T @ X~."""
    return dy.T @ x_sparse
