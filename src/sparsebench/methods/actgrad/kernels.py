"""Wrappers over the C++ kernels of activation-gradient pruning: DBTD threshold, stochastic
pruning, the fused prune + compress front end, and the sparse-dO backward kernels (numpy or CPU
torch in; torch in -> torch out). Every call takes ``isa=None, threads=0``; bad input raises
TypeError / ValueError naming the argument."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
import torch

from ... import _kernels
from .format import SparseGrad, rows_cols


def _like(out: np.ndarray, template: Any) -> Any:
    """Return out as the same kind (torch or numpy) as template, without copying."""
    return torch.from_numpy(out) if isinstance(template, torch.Tensor) else out


def check_rate(p: float, name: str = "p") -> float:
    """A pruning rate in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(p).__name__}")
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")
    return float(p)


def normal_quantile_for_rate(p: float) -> float:
    """z = Phi^-1((1 + p) / 2): the |g| quantile that prunes a fraction p of N(0, s^2)."""
    return statistics.NormalDist().inv_cdf((1.0 + check_rate(p)) / 2.0)




def abs_sum(g: Any, *, isa: str | None = None, threads: int = 0) -> float:
    return _kernels.abs_sum(g, isa=isa, threads=threads)


def dbtd_threshold(g: Any, p: float, *, isa: str | None = None, threads: int = 0) -> float:
    """DBTD threshold tau for pruning rate p (float32 value returned as a Python float)."""
    return _kernels.dbtd_threshold(g, normal_quantile_for_rate(p), isa=isa, threads=threads)


def stochastic_prune(
    g: Any, tau: float, seed: int, *, out: Any = None, isa: str | None = None, threads: int = 0
) -> tuple[Any, int]:
    """Stochastic pruning of g below tau; returns (pruned, nnz)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    result, nnz = _kernels.stochastic_prune(g, float(tau), int(seed), out=out, isa=isa, threads=threads)
    return (out if out is not None else _like(result, g)), nnz


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return int(seed)


def _as_2d(g: Any) -> tuple[Any, tuple[int, ...]]:
    shape = tuple(g.shape)
    R, C = rows_cols(shape)
    if isinstance(g, torch.Tensor):
        if not g.is_contiguous():
            raise ValueError("g must be C-contiguous (call .contiguous() explicitly)")
        return g.detach().view(R, C), shape
    a = np.asarray(g)
    if not a.flags.c_contiguous:
        raise ValueError("g must be C-contiguous (call np.ascontiguousarray explicitly)")
    return a.reshape(R, C), shape


def _out(a: np.ndarray, template: Any) -> Any:
    return torch.from_numpy(a) if isinstance(template, torch.Tensor) else a


def prune_compress(g: Any, tau: float, seed: int, *, isa: str | None = None, threads: int = 0) -> SparseGrad:
    """Stochastic pruning below tau fused with compression to the row-bitmap format.

    Element i (flat index of g) is pruned exactly like stochastic_prune(g, tau, seed)."""
    g2, shape = _as_2d(g)
    bits, values, rowptr = _kernels.prune_compress(g2, float(tau), _seed(seed), isa=isa, threads=threads)
    return SparseGrad(shape, bits, values, rowptr, tau=float(tau), seed=int(seed))


def prune(g: Any, p: float, seed: int, *, isa: str | None = None, threads: int = 0) -> SparseGrad:
    """The whole front-end: DBTD threshold for rate p (pass 1), prune + compress (pass 2)."""
    tau = dbtd_threshold(g, p, isa=isa, threads=threads)
    sg = prune_compress(g, tau, seed, isa=isa, threads=threads)
    sg.p = float(p)
    return sg


def _check_grad(grad: Any, ndim: int) -> SparseGrad:
    if not isinstance(grad, SparseGrad):
        raise TypeError(f"grad must be a SparseGrad, got {type(grad).__name__}")
    if len(grad.shape) != ndim:
        raise ValueError(f"grad must describe a {ndim}-D gradient, got shape {grad.shape}")
    return grad


def conv2d_backward_data(
    weight: Any, grad: SparseGrad, input_hw: tuple[int, int], stride: Any = 1, padding: Any = 0,
    *, isa: str | None = None, threads: int = 0,
) -> Any:
    """dX (N, Cin, H, W) of conv2d (groups 1, dilation 1) from the compressed dO."""
    g = _check_grad(grad, 4)
    dx = _kernels.conv2d_backward_data(weight, g.bits, g.values, g.rowptr, g.shape, tuple(input_hw), stride,
                                       padding, isa=isa, threads=threads)
    return _out(dx, weight)


def conv2d_weight_grad(
    input: Any, grad: SparseGrad, kernel_hw: tuple[int, int], stride: Any = 1, padding: Any = 0,
    *, isa: str | None = None, threads: int = 0,
) -> Any:
    """dW (Cout, Cin, kh, kw) of conv2d from the compressed dO and the stored input."""
    g = _check_grad(grad, 4)
    dw = _kernels.conv2d_weight_grad(input, g.bits, g.values, g.rowptr, g.shape, tuple(kernel_hw), stride,
                                     padding, isa=isa, threads=threads)
    return _out(dw, input)


def linear_backward_data(weight: Any, grad: SparseGrad, *, isa: str | None = None, threads: int = 0) -> Any:
    """dX (B, in) = dO @ W from the compressed dO (B, out)."""
    g = _check_grad(grad, 2)
    return _out(_kernels.linear_backward_data(weight, g.bits, g.values, g.rowptr, g.shape, isa=isa,
                                              threads=threads), weight)


def linear_weight_grad(input: Any, grad: SparseGrad, *, isa: str | None = None, threads: int = 0) -> Any:
    """dW (out, in) = dO^T @ X from the compressed dO (B, out)."""
    g = _check_grad(grad, 2)
    return _out(_kernels.linear_weight_grad(input, g.bits, g.values, g.rowptr, g.shape, isa=isa,
                                            threads=threads), input)
