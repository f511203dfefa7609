"""Filter / channel sparsity (scheme "filter"): whole output filters and/or input channels removed.

The stored values ARE the compacted dense weight (len(out_idx), len(in_idx), kh, kw), so every
stage runs as a smaller dense problem on torch's own kernels (oneDNN / MKL):
  forward        gather the kept input channels (skipped when all are kept), dense conv with the
                 compact weight, scatter into the kept output channels (pruned ones are zero);
  backward-data  gather kept output channels of dy, dense conv2d_input, scatter kept channels;
  weight-grad    dense conv2d_weight on the compacted x and dy: exactly the kept values.
Nothing is gathered per weight element: the compact weight is updated in place by SGD, so there is
no per-step gather of the weight either. This is the scheme that should sit nearest the ideal.

Few kept filters. oneDNN blocks output channels by 16, so a compact conv with k << 16 kept filters
runs at about k/16 of its rate (6 filters: ~40%). Conv weights with at most KERNEL_MAX_FILTERS kept
filters therefore run on sparsebench's own direct-conv engine (filter_conv_* in
kernels/bindings/bind_block.cpp: pixel-vectorized phase-plane tiles of up to 8 output rows), which
folds the kept-channel gather into its input packing and the scatter / zero fill of pruned channels
into its output unpacking (no torch index_select / index_copy_ passes). On a pointwise conv (1x1,
stride 1, no padding) every stage runs on that engine with any number of kept filters,
straight on the NCHW planes (kernels/sparse/planes.hpp): the gather and scatter become plane
offsets, and only the pruned channels' planes are zero filled.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ... import _kernels
from ..base import ConvGeometry
from ..common import dense_weight_grad
from ..sgd import StoredValuesSGD
from .masks import FilterMask, filter_mask


def _kw(kw: dict) -> dict:
    return {k: kw[k] for k in ("threads", "isa", "qchunk") if k in kw}


def _idx(t: torch.Tensor, n: int, name: str) -> torch.Tensor:
    t = torch.as_tensor(t).to(torch.int64).flatten()
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
        raise ValueError(f"{name} out of range [0, {n})")
    if t.numel() > 1 and not bool((t[1:] > t[:-1]).all()):
        raise ValueError(f"{name} must be strictly increasing (sorted, no duplicates)")
    return t.contiguous()


KERNEL_MAX_FILTERS = 8


class FilterSparseWeight(StoredValuesSGD):
    scheme = "filter"

    def __init__(self, shape, out_idx, in_idx, values: torch.Tensor):
        self.shape = tuple(int(v) for v in shape)
        if len(self.shape) not in (2, 4):
            raise ValueError(f"weight shape must be 2-D or 4-D, got {self.shape}")
        self.out_idx = _idx(out_idx, self.shape[0], "out_idx")
        self.in_idx = _idx(in_idx, self.shape[1], "in_idx")
        self.values = values.to(torch.float32).contiguous().reshape(-1)
        if self.values.numel() != self.nnz:
            raise ValueError(f"values must hold {self.nnz} floats (compact weight), got {self.values.numel()}")
        self._all_in = len(self.in_idx) == self.shape[1]
        self._all_out = len(self.out_idx) == self.shape[0]

    @property
    def compact_shape(self) -> tuple[int, ...]:
        return (len(self.out_idx), len(self.in_idx), *self.shape[2:])

    @property
    def compact(self) -> torch.Tensor:
        """The compact weight: a view of values (updates land in values)."""
        return self.values.view(self.compact_shape)

    @classmethod
    def from_filter_mask(cls, fm: FilterMask, weight: torch.Tensor | None = None, *, init_std: float = 0.0,
                         seed: int = 0) -> "FilterSparseWeight":
        if weight is not None:
            vals = weight.detach().index_select(0, fm.out_idx).index_select(1, fm.in_idx)
        elif init_std == 0.0:
            vals = torch.zeros((len(fm.out_idx), len(fm.in_idx), *fm.shape[2:]), dtype=torch.float32)
        else:
            g = torch.Generator().manual_seed(int(seed))
            vals = torch.randn((len(fm.out_idx), len(fm.in_idx), *fm.shape[2:]), generator=g) * init_std
        return cls(fm.shape, fm.out_idx, fm.in_idx, vals.reshape(-1))

    @classmethod
    def from_dense(cls, weight: torch.Tensor) -> "FilterSparseWeight":
        """Keep the filters and input channels that hold any nonzero."""
        if weight.dtype != torch.float32:
            raise TypeError(f"weight must be float32, got {weight.dtype}")
        nz = (weight != 0).reshape(weight.shape[0], weight.shape[1], -1).any(-1)
        out_idx = torch.nonzero(nz.any(1)).flatten()
        in_idx = torch.nonzero(nz.any(0)).flatten()
        fm = FilterMask(tuple(weight.shape), out_idx, in_idx, 0.0)
        return cls.from_filter_mask(fm, weight)

    @classmethod
    def random(cls, shape, sparsity: float, *, seed: int = 0, mode: str = "filters",
               init_std: float | None = None) -> "FilterSparseWeight":
        fm = filter_mask(shape, sparsity, seed=seed, mode=mode)
        if init_std is None:
            k = 1
            for v in shape[1:]:
                k *= v
            init_std = (2.0 / max(k, 1)) ** 0.5
        return cls.from_filter_mask(fm, None, init_std=init_std, seed=seed + 7)

    @property
    def nnz(self) -> int:
        n = len(self.out_idx) * len(self.in_idx)
        for v in self.shape[2:]:
            n *= v
        return n

    def _expand(self, compact: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(self.shape, dtype=compact.dtype)
        if compact.numel():
            out[self.out_idx[:, None], self.in_idx[None, :]] = compact
        return out

    def to_dense(self) -> torch.Tensor:
        return self._expand(self.compact)

    def mask(self) -> torch.Tensor:
        return self._expand(torch.ones(self.compact_shape, dtype=torch.bool))

    def positions(self) -> torch.Tensor:
        """int64 like values: flat row-major dense index of each compact entry."""
        t = 1
        for v in self.shape[2:]:
            t *= v
        base = (self.out_idx[:, None] * self.shape[1] + self.in_idx[None, :]) * t  # (nout, nin)
        return (base[:, :, None] + torch.arange(t)[None, None, :]).reshape(-1)

    def mask_object(self) -> FilterMask:
        return FilterMask(self.shape, self.out_idx.clone(), self.in_idx.clone(), 1.0 - self.density)

    def values_from_dense(self, dense: torch.Tensor) -> torch.Tensor:
        """The compact block of a dense tensor (weight shape), flattened like values."""
        return dense.index_select(0, self.out_idx).index_select(1, self.in_idx).reshape(-1).contiguous()

    def tensor_bytes(self) -> int:
        return 4 * self.values.numel() + 8 * (self.out_idx.numel() + self.in_idx.numel())

    # --- stages ---------------------------------------------------------------------------------
    def _use_kernel(self, geometry: ConvGeometry, *acts: torch.Tensor, strided_ok: bool = False) -> bool:
        """Conv weight with few kept filters, or with any number on a pointwise geometry (every
        stage runs there straight on the NCHW planes) or, where the stage says so (strided_ok:
        backward-data), with stride > 1; activations already contiguous (the kernel never copies).

        Backward-data with stride 2 and many kept filters: torch's compact conv2d_input measured
        2.2x slower than the kernel on r50-3x3s2-56 and 1.8x on resnet-3x3s2-64x16 (s = 0.9, 1
        thread, side by side in one process), while at stride 1 neither wins everywhere."""
        if not (len(self.shape) == 4 and len(self.out_idx) > 0 and all(a.ndim == 4 and a.is_contiguous() for a in acts)):
            return False
        pointwise = self.shape[2:] == (1, 1) and geometry.stride == 1 and geometry.padding == 0
        return (pointwise or len(self.out_idx) <= KERNEL_MAX_FILTERS
                or (strided_ok and geometry.stride > 1))

    def _gather_in(self, x: torch.Tensor) -> torch.Tensor:
        return x if self._all_in else x.index_select(1, self.in_idx)

    def _scatter_out(self, yc: torch.Tensor, full_shape) -> torch.Tensor:
        if self._all_out:
            return yc
        y = yc.new_zeros(full_shape)
        y.index_copy_(1, self.out_idx, yc)
        return y

    def _check_x(self, x: torch.Tensor, name: str = "x") -> None:
        if not isinstance(x, torch.Tensor) or x.dtype != torch.float32:
            raise TypeError(f"{name} must be a float32 torch tensor")
        if x.ndim != len(self.shape) or x.shape[1] != self.shape[1]:
            raise ValueError(f"{name} shape {tuple(x.shape)} does not fit weight {self.shape}")

    def forward(self, x: torch.Tensor, geometry: ConvGeometry | None = None, **kw: Any) -> torch.Tensor:
        self._check_x(x)
        if self.nnz == 0 or x.shape[0] == 0:
            if len(self.shape) == 2:
                return x.new_zeros((x.shape[0], self.shape[0]))
            g = geometry or ConvGeometry()
            ho, wo = g.out_hw(x.shape[2], x.shape[3], self.shape[2], self.shape[3])
            return x.new_zeros((x.shape[0], self.shape[0], ho, wo))
        if self._use_kernel(geometry or ConvGeometry(), x):
            g = geometry or ConvGeometry()
            y = _kernels.filter_conv_forward(x, self.compact, self.out_idx, self.in_idx, self.shape[0], g.stride,
                                             g.padding, **_kw(kw))
            return torch.from_numpy(y)
        xc = self._gather_in(x)
        if len(self.shape) == 2:
            yc = F.linear(xc, self.compact)
            return self._scatter_out(yc, (x.shape[0], self.shape[0]))
        g = geometry or ConvGeometry()
        yc = F.conv2d(xc, self.compact, stride=g.stride, padding=g.padding)
        return self._scatter_out(yc, (x.shape[0], self.shape[0], *yc.shape[2:]))

    def backward_data(self, dy: torch.Tensor, x_shape, geometry: ConvGeometry | None = None,
                      **kw: Any) -> torch.Tensor:
        x_shape = tuple(int(v) for v in x_shape)
        if self.nnz == 0 or x_shape[0] == 0:
            return dy.new_zeros(x_shape)
        if self._use_kernel(geometry or ConvGeometry(), dy, strided_ok=True):
            g = geometry or ConvGeometry()
            dx = _kernels.filter_conv_backward_data(dy, self.compact, self.out_idx, self.in_idx, list(x_shape),
                                                    g.stride, g.padding, **_kw(kw))
            return torch.from_numpy(dx)
        dyc = dy if self._all_out else dy.index_select(1, self.out_idx)
        cshape = (x_shape[0], len(self.in_idx), *x_shape[2:])
        if len(self.shape) == 2:
            dxc = dyc.mm(self.compact)
        else:
            g = geometry or ConvGeometry()
            dxc = torch.nn.grad.conv2d_input(cshape, self.compact, dyc, stride=g.stride, padding=g.padding)
        if self._all_in:
            return dxc
        dx = dxc.new_zeros(x_shape)
        dx.index_copy_(1, self.in_idx, dxc)
        return dx

    def weight_grad_sampled(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                            **kw: Any) -> torch.Tensor:
        if self.nnz == 0 or x.shape[0] == 0:
            return x.new_zeros(self.nnz)
        if self._use_kernel(geometry or ConvGeometry(), x, dy):
            g = geometry or ConvGeometry()
            gv = _kernels.filter_conv_weight_grad(x, dy, self.out_idx, self.in_idx, list(self.shape[2:]), g.stride,
                                                  g.padding, **_kw(kw))
            return torch.from_numpy(gv)
        xc = self._gather_in(x)
        dyc = dy if self._all_out else dy.index_select(1, self.out_idx)
        return dense_weight_grad(xc, dyc, self.compact_shape, geometry).reshape(-1)

    def weight_grad_dense(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                          **kw: Any) -> torch.Tensor:
        return dense_weight_grad(x, dy, self.shape, geometry)
