"""Wrappers over SWAT's C++ kernels (kernels/swat/): exact top-K selection, top-K compression into
row CSR, and the weight gradients from a sparse stored activation. numpy or CPU torch in, torch
in -> torch out; every call takes ``isa=None, threads=0``; bad input raises TypeError /
ValueError naming the argument.

Selection rule (exact, deterministic, independent of the thread count): T = the k-th largest
|x| (its float bit pattern is the radix key); kept = every |x| > T plus the first k - #(|x| > T)
elements with |x| == T in flat index order. NaN anywhere in the tensor: ValueError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ... import _kernels
from .format import SparseActivation

METHODS = ("auto", "radix", "sample")


@dataclass(frozen=True)
class Selection:
    threshold: float  # the k-th largest |x|
    n_gt: int  # elements with |x| > threshold
    n_eq: int  # elements with |x| == threshold
    need_eq: int  # how many of those the top-K keeps (k - n_gt)
    passes: int  # streaming passes over x the kernel took

    @property
    def k(self) -> int:
        return self.n_gt + self.need_eq


def _tensor(x: Any, name: str) -> Any:
    if isinstance(x, torch.Tensor):
        if x.dtype != torch.float32:
            raise TypeError(f"{name} must be float32, got {x.dtype}")
        if x.device.type != "cpu":
            raise ValueError(f"{name} must be on the CPU, got {x.device}")
        if not x.is_contiguous():
            raise ValueError(f"{name} must be contiguous (call .contiguous() explicitly)")
        return x.detach()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")


def _renamed(exc: ValueError, name: str) -> ValueError:
    msg = str(exc)
    return ValueError(name + msg[1:] if msg.startswith("x ") else msg)


def select(x: Any, k: int, *, method: str = "auto", name: str = "x", isa: str | None = None,
           threads: int = 0) -> Selection:
    """The k-th largest |x| and the tie counts (see the module doc)."""
    x = _tensor(x, name)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    n = int(np.prod(x.shape))
    if not 1 <= int(k) <= n:
        raise ValueError(f"k must be in [1, numel of {name} = {n}], got {k}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    try:
        t, gt, eq, need, passes = _kernels.swat_select(x, int(k), method=method, isa=isa, threads=threads)
    except ValueError as exc:
        raise _renamed(exc, name) from None
    return Selection(float(t), int(gt), int(eq), int(need), int(passes))


def compress(x: Any, cols: int, threshold: float, need_eq: int = -1, *, isa: str | None = None,
             threads: int = 0) -> tuple[Any, Any, Any]:
    """Row CSR (rowptr int64, col int32, vals) of the elements of x (rows of ``cols``) with
    |x| > threshold, plus the first ``need_eq`` equal to it in flat order (-1: all of them)."""
    x = _tensor(x, "x")
    rp, col, vals = _kernels.swat_compress(x, int(cols), float(threshold), int(need_eq), isa=isa, threads=threads)
    if isinstance(x, torch.Tensor):
        return torch.from_numpy(rp), torch.from_numpy(col), torch.from_numpy(vals)
    return rp, col, vals


def topk_compress(x: Any, k: int, cols: int, *, name: str = "x", method: str = "auto", isa: str | None = None,
                  threads: int = 0) -> tuple[Selection, tuple[Any, Any, Any]]:
    """Exactly the k largest |x| (ties: lowest flat index), as row CSR: (selection, (rowptr, col, vals))."""
    sel = select(x, k, method=method, name=name, isa=isa, threads=threads)
    return sel, compress(x, cols, sel.threshold, sel.need_eq, isa=isa, threads=threads)


def topk_mask(x: torch.Tensor, k: int, **kw: Any) -> torch.Tensor:
    """Bool mask of the kernel's top-K (for cross-validation against the sort-based reference)."""
    if k == 0:  # nothing to select, but the input is checked as for any k
        t = _tensor(x, "x")
        if torch.isnan(torch.as_tensor(t)).any():
            raise ValueError("x contains NaN: the top-K of |x| is undefined")
        return torch.zeros(x.shape, dtype=torch.bool)
    _, (rp, col, _) = topk_compress(x, k, max(int(x.numel()), 1), **kw)
    m = torch.zeros(x.numel(), dtype=torch.bool)
    m[col.to(torch.int64)] = True
    return m.reshape(x.shape)


def compress_activation(x: torch.Tensor, sparsity: float, *, threshold: float | None = None, name: str = "x",
                        isa: str | None = None, threads: int = 0) -> SparseActivation:
    """TopK(|x|) of a layer input as a SparseActivation (conv: rows (n, c) of H*W; linear: rows of
    in_features). ``threshold`` given: reuse it (|x| >= threshold kept, no selection)."""
    from .reference import keep_count

    x = _tensor(x, name)
    cols = int(np.prod(x.shape[2:])) if x.dim() == 4 else int(x.shape[-1])
    cols = max(cols, 1)
    n = x.numel()
    if threshold is None:
        k = keep_count(n, sparsity)
        if k == 0:  # empty batch
            rp, col, vals = compress(x, cols, float("inf"), 0, isa=isa, threads=threads)
            return SparseActivation(tuple(x.shape), cols, rp, col, vals, float("inf"))
        sel, (rp, col, vals) = topk_compress(x, k, cols, name=name, isa=isa, threads=threads)
        return SparseActivation(tuple(x.shape), cols, rp, col, vals, sel.threshold)
    rp, col, vals = compress(x, cols, threshold, -1, isa=isa, threads=threads)
    return SparseActivation(tuple(x.shape), cols, rp, col, vals, float(threshold))


def conv2d_weight_grad(act: SparseActivation, dy: torch.Tensor, kernel_hw: tuple[int, int], stride: int = 1,
                       padding: int = 0, *, isa: str | None = None, threads: int = 0) -> torch.Tensor:
    """dW (Cout, Cin, kh, kw) of conv2d from the sparse stored input and the dense dy."""
    if not isinstance(act, SparseActivation) or len(act.shape) != 4:
        raise TypeError("act must be a 4-D SparseActivation")
    dy = _tensor(dy, "dy")
    dw = _kernels.swat_conv_weight_grad(act.rowptr, act.col, act.vals, dy, list(act.shape), list(kernel_hw),
                                        int(stride), int(padding), isa=isa, threads=threads)
    return torch.from_numpy(dw)


def linear_weight_grad(act: SparseActivation, dy: torch.Tensor, *, isa: str | None = None,
                       threads: int = 0) -> torch.Tensor:
    """dW (out, in) = dy^T @ X~ from the sparse stored input (B, in) and the dense dy (B, out)."""
    if not isinstance(act, SparseActivation) or len(act.shape) != 2:
        raise TypeError("act must be a 2-D SparseActivation")
    dy = _tensor(dy, "dy")
    if dy.dim() != 2 or dy.shape[0] != act.shape[0]:
        raise ValueError(f"dy must be (B = {act.shape[0]}, out), got {tuple(dy.shape)}")
    dw = _kernels.swat_linear_weight_grad(act.rowptr, act.col, act.vals, dy, int(act.shape[1]), isa=isa,
                                          threads=threads)
    return torch.from_numpy(dw)
