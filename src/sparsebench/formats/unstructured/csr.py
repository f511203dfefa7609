"""Unstructured weight sparsity: CSR format and its training-stage kernels.

Format: CSR over the weight viewed as (rows, K): conv rows = Cout and K = Cin*kh*kw in torch's
(Cin, kh, kw) order (col = (ci*kh + i)*kw + j); linear rows = out, K = in. int32 row_ptr /
col_idx (strictly increasing inside a row), float32 values (the trainable parameter).

Kernels (kernels/sparse/csr.hpp): direct sparse convolution, no im2col. Each call re-lays out its
dense operand once (zero padding + stride-phase split of x; zero-padded dy; transposes of the
linear activations) and that cost is inside the timed call. Backward-data uses the transposed
structure (tptr, tsrc, tco, ttap), built once per mask and cached on the CSRWeight (values are
gathered per call, so in-place value updates never invalidate it).

Functions accept numpy arrays or CPU torch tensors (torch in, torch out) and ``isa=`` / ``threads=``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ... import _kernels
from ..base import ConvGeometry
from ..sgd import StoredValuesSGD
from .masks import ElementMask, as_uint8

SCHEME = "unstructured"


def _np(a: Any) -> Any:
    return a.detach().numpy() if isinstance(a, torch.Tensor) else a


def _like(out: np.ndarray, template: Any) -> Any:
    return torch.from_numpy(out) if isinstance(template, torch.Tensor) else out


def _shape4(shape: Any, name: str) -> tuple[int, int, int, int]:
    t = tuple(int(v) for v in shape)
    if len(t) != 4:
        raise ValueError(f"{name} must have 4 entries, got {t}")
    return t  # type: ignore[return-value]


# --- format builders ----------------------------------------------------------------------------


def csr_from_mask(mask: Any, weight: Any, *, isa: str | None = None, threads: int = 0) -> tuple[Any, Any, Any]:
    """(row_ptr, col_idx, values) of ``weight`` at the nonzeros of ``mask`` (same shape, first dim = rows)."""
    m = as_uint8(mask)
    if isinstance(weight, np.ndarray):
        weight_t = torch.from_numpy(weight)
    elif isinstance(weight, torch.Tensor):
        weight_t = weight.detach()
    else:
        raise TypeError(f"weight must be a torch.Tensor or numpy array, got {type(weight).__name__}")
    if tuple(m.shape) != tuple(weight_t.shape):
        raise ValueError(f"mask shape {tuple(m.shape)} does not match weight shape {tuple(weight_t.shape)}")
    if m.dim() < 1:
        raise ValueError("mask must have at least 1 dimension")
    if not weight_t.is_contiguous():
        raise ValueError("weight must be contiguous (sparsebench never copies silently)")
    rows = int(m.shape[0])
    K = int(np.prod(m.shape[1:])) if m.dim() > 1 else 1
    rp, col, val = _kernels.csr_from_mask(m.reshape(rows, K).numpy(), weight_t.reshape(rows, K).numpy(), isa=isa,
                                          threads=threads)
    return _like(rp, weight), _like(col, weight), _like(val, weight)


def csr_from_indices(rows: Any, cols: Any, values: Any, shape: tuple[int, int]) -> tuple[Any, Any, Any]:
    """CSR from sorted, unique, in-range (row, col) coordinates, without a dense intermediate.
    Returns (row_ptr, col_idx, values) with values passed through (no copy)."""
    r = torch.as_tensor(rows)
    c = torch.as_tensor(cols)
    if r.dtype not in (torch.int32, torch.int64) or c.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"rows and cols must be int32 or int64, got {r.dtype} and {c.dtype}")
    if r.dim() != 1 or c.dim() != 1 or r.shape != c.shape:
        raise ValueError(f"rows and cols must be 1-D of equal length, got {tuple(r.shape)} and {tuple(c.shape)}")
    v = values
    if not isinstance(v, (torch.Tensor, np.ndarray)):
        raise TypeError("values must be a torch.Tensor or numpy array")
    if tuple(v.shape) != tuple(r.shape):
        raise ValueError(f"values must have shape {tuple(r.shape)}, got {tuple(v.shape)}")
    if v.dtype not in (torch.float32, np.float32):
        raise TypeError(f"values must be float32, got {v.dtype}")
    nrows, K = int(shape[0]), int(shape[1])
    rp = _kernels.csr_row_ptr_from_coo(r.to(torch.int64).contiguous().numpy(), c.to(torch.int64).contiguous().numpy(),
                                       nrows, K)
    col = c.to(torch.int32).contiguous()
    return _like(rp, values), (col if isinstance(values, torch.Tensor) else col.numpy()), values


def csr_validate(row_ptr: Any, col_idx: Any, rows: int, K: int) -> None:
    _kernels.csr_validate(_np(row_ptr), _np(col_idx), int(rows), int(K))


def conv_transpose(row_ptr: Any, col_idx: Any, weight_shape: tuple[int, ...], stride: int = 1) -> tuple[Any, ...]:
    """(tptr, tsrc, tco, ttap): transposed structure for backward-data (rows (ci, (i%s)*s + j%s))."""
    ws = _shape4(weight_shape, "weight_shape")
    out = _kernels.csr_conv_transpose(_np(row_ptr), _np(col_idx), ws, int(stride))
    return tuple(_like(a, row_ptr) for a in out)


# --- stage kernels --------------------------------------------------------------------------------


def conv_forward(row_ptr, col_idx, values, x, weight_shape, stride=1, padding=0, *, isa=None, threads=0):
    """y = conv2d(x, W_csr, stride, padding): direct sparse convolution."""
    y = _kernels.csr_conv_forward(_np(row_ptr), _np(col_idx), _np(values), _np(x), _shape4(weight_shape, "weight_shape"),
                                  int(stride), int(padding), isa=isa, threads=threads)
    return _like(y, x)


def conv_backward_data(values, trans, dy, x_shape, weight_shape, stride=1, padding=0, *, isa=None, threads=0):
    """dx = conv2d_input(x_shape, W_csr, dy) with trans = conv_transpose(...)."""
    tptr, tsrc, tco, ttap = (_np(a) for a in trans)
    dx = _kernels.csr_conv_backward_data(_np(values), tptr, tsrc, tco, ttap, _np(dy), _shape4(x_shape, "x_shape"),
                                         _shape4(weight_shape, "weight_shape"), int(stride), int(padding), isa=isa,
                                         threads=threads)
    return _like(dx, dy)


def conv_weight_grad_sampled(row_ptr, col_idx, x, dy, weight_shape, stride=1, padding=0, *, isa=None, threads=0):
    """conv2d_weight(x, W.shape, dy) at the stored positions, shaped like values (SDDMM)."""
    dv = _kernels.csr_conv_weight_grad_sampled(_np(row_ptr), _np(col_idx), _np(x), _np(dy),
                                               _shape4(weight_shape, "weight_shape"), int(stride), int(padding),
                                               isa=isa, threads=threads)
    return _like(dv, x)


def conv_weight_grad_dense(x, dy, weight_shape, stride=1, padding=0, *, isa=None, threads=0):
    """Full dW (Cout, Cin, kh, kw) for methods that regrow. Fast path: torch's dense
    conv2d_weight (oneDNN), run at ``threads`` torch threads (0: unchanged); isa is ignored."""
    xt, dyt = torch.as_tensor(x), torch.as_tensor(dy)
    if threads:
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        dw = torch.nn.grad.conv2d_weight(xt, _shape4(weight_shape, "weight_shape"), dyt, stride=int(stride),
                                         padding=int(padding))
    finally:
        if threads:
            torch.set_num_threads(old)
    return dw if isinstance(x, torch.Tensor) else dw.numpy()


def linear_forward(row_ptr, col_idx, values, x, out_features, *, isa=None, threads=0):
    y = _kernels.csr_linear_forward(_np(row_ptr), _np(col_idx), _np(values), _np(x), int(out_features), isa=isa,
                                    threads=threads)
    return _like(y, x)


def linear_backward_data(values, trans, dy, in_features, *, isa=None, threads=0):
    tptr, tsrc, tco = (_np(a) for a in trans[:3])
    dx = _kernels.csr_linear_backward_data(_np(values), tptr, tsrc, tco, _np(dy), int(in_features), isa=isa,
                                           threads=threads)
    return _like(dx, dy)


def linear_weight_grad_sampled(row_ptr, col_idx, x, dy, *, isa=None, threads=0):
    dv = _kernels.csr_linear_weight_grad_sampled(_np(row_ptr), _np(col_idx), _np(x), _np(dy), isa=isa,
                                                 threads=threads)
    return _like(dv, x)


# --- the SparseWeight ------------------------------------------------------------------------------


class CSRWeight(StoredValuesSGD):
    """SparseWeight (scheme "unstructured") in CSR over (rows, K); see the module doc."""

    scheme = SCHEME

    def __init__(self, row_ptr: torch.Tensor, col_idx: torch.Tensor, values: torch.Tensor, shape: tuple[int, ...],
                 *, validate: bool = True):
        self.shape = tuple(int(s) for s in shape)
        if len(self.shape) not in (2, 4):
            raise ValueError(f"shape must be (out, in) or (Cout, Cin, kh, kw), got {self.shape}")
        self.row_ptr = torch.as_tensor(row_ptr)
        self.col_idx = torch.as_tensor(col_idx)
        self.values = torch.as_tensor(values)
        if self.values.dtype != torch.float32:
            raise TypeError(f"values must be float32, got {self.values.dtype}")
        if validate:
            csr_validate(self.row_ptr, self.col_idx, self.rows, self.K)
            if self.values.shape != self.col_idx.shape:
                raise ValueError(f"values must have shape {tuple(self.col_idx.shape)}, got {tuple(self.values.shape)}")
        self._trans: dict[int, tuple[torch.Tensor, ...]] = {}

    # construction
    @classmethod
    def from_dense(cls, weight: torch.Tensor, mask: torch.Tensor | None = None, **kw: Any) -> "CSRWeight":
        """From a dense weight and a mask (default: weight != 0)."""
        w = weight.detach().to(torch.float32).contiguous()
        m = (w != 0) if mask is None else mask.contiguous()
        rp, col, val = csr_from_mask(m, w, **kw)
        return cls(rp, col, val, tuple(w.shape), validate=False)

    @classmethod
    def from_element_mask(cls, mask: "ElementMask", weight: torch.Tensor | None = None, **kw: Any) -> "CSRWeight":
        """From the format's mask object; values from ``weight`` at the kept positions, or zeros."""
        keep = mask.keep.contiguous()
        if weight is not None:
            return cls.from_dense(weight, keep, **kw)
        rows, cols = torch.nonzero(keep.reshape(keep.shape[0], -1), as_tuple=True)  # row-major: sorted, unique
        return cls.from_indices(rows, cols, torch.zeros(len(rows), dtype=torch.float32), keep.shape)

    @classmethod
    def from_indices(cls, rows: Any, cols: Any, values: torch.Tensor, shape: tuple[int, ...]) -> "CSRWeight":
        """From sorted unique (row, col-in-K) coordinates and values; no dense intermediate."""
        shape = tuple(int(s) for s in shape)
        K = int(np.prod(shape[1:]))
        rp, col, val = csr_from_indices(rows, cols, values, (shape[0], K))
        return cls(rp, col, val, shape, validate=False)

    # protocol
    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def K(self) -> int:
        return int(np.prod(self.shape[1:]))

    @property
    def is_conv(self) -> bool:
        return len(self.shape) == 4

    @property
    def nnz(self) -> int:
        return int(self.col_idx.numel())

    def row_indices(self) -> torch.Tensor:
        counts = (self.row_ptr[1:] - self.row_ptr[:-1]).to(torch.int64)
        return torch.repeat_interleave(torch.arange(self.rows), counts)

    def to_dense(self) -> torch.Tensor:
        d = torch.zeros(self.rows, self.K, dtype=torch.float32)
        d[self.row_indices(), self.col_idx.to(torch.int64)] = self.values
        return d.reshape(self.shape)

    def mask(self) -> torch.Tensor:
        m = torch.zeros(self.rows, self.K, dtype=torch.bool)
        m[self.row_indices(), self.col_idx.to(torch.int64)] = True
        return m.reshape(self.shape)

    def positions(self) -> torch.Tensor:
        """int64 like values: flat row-major index into the dense weight of each stored value
        (ascending: CSR order is row-major)."""
        return self.row_indices() * self.K + self.col_idx.to(torch.int64)

    def mask_object(self) -> ElementMask:
        return ElementMask(self.shape, self.mask(), 1.0 - self.density)

    def tensor_bytes(self) -> int:
        """The CSR arrays plus every cache built so far (the transposed structure per stride)."""
        return 4 * (self.row_ptr.numel() + self.col_idx.numel() + self.values.numel()) + self.cache_bytes()

    def cache_bytes(self) -> int:
        """Bytes of the transposed structures cached for backward-data (0 until one is built)."""
        return sum(t.numel() * t.element_size() if isinstance(t, torch.Tensor) else int(getattr(t, "nbytes", 0))
                   for trans in self._trans.values() for t in trans)

    def transposed(self, stride: int = 1) -> tuple[torch.Tensor, ...]:
        """Cached transposed structure for backward-data (depends on the mask and stride only)."""
        stride = int(stride) if self.is_conv else 1
        if stride not in self._trans:
            ws = self.shape if self.is_conv else (self.shape[0], self.shape[1], 1, 1)
            self._trans[stride] = conv_transpose(self.row_ptr, self.col_idx, ws, stride)
        return self._trans[stride]

    def forward(self, x: torch.Tensor, geometry: ConvGeometry | None = None, **kw: Any) -> torch.Tensor:
        if self.is_conv:
            g = geometry or ConvGeometry()
            return conv_forward(self.row_ptr, self.col_idx, self.values, x, self.shape, g.stride, g.padding, **kw)
        return linear_forward(self.row_ptr, self.col_idx, self.values, x, self.shape[0], **kw)

    def backward_data(self, dy: torch.Tensor, x_shape: tuple[int, ...], geometry: ConvGeometry | None = None,
                      **kw: Any) -> torch.Tensor:
        if self.is_conv:
            g = geometry or ConvGeometry()
            return conv_backward_data(self.values, self.transposed(g.stride), dy, x_shape, self.shape, g.stride,
                                      g.padding, **kw)
        return linear_backward_data(self.values, self.transposed(1), dy, self.shape[1], **kw)

    def weight_grad_sampled(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                            **kw: Any) -> torch.Tensor:
        if self.is_conv:
            g = geometry or ConvGeometry()
            return conv_weight_grad_sampled(self.row_ptr, self.col_idx, x, dy, self.shape, g.stride, g.padding, **kw)
        return linear_weight_grad_sampled(self.row_ptr, self.col_idx, x, dy, **kw)

    def weight_grad_dense(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                          **kw: Any) -> torch.Tensor:
        if self.is_conv:
            g = geometry or ConvGeometry()
            return conv_weight_grad_dense(x, dy, self.shape, g.stride, g.padding, **kw)
        return torch.as_tensor(dy).T @ torch.as_tensor(x)

    def __repr__(self) -> str:
        return f"CSRWeight(shape={self.shape}, nnz={self.nnz}, density={self.density:.4f})"
