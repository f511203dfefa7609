"""What every weight-sparsity format provides, so SparseConv2d / SparseLinear, the benchmark
harness and the methods (MEST, SWAT, SSL, filter pruning) can use any scheme the same way.

Layouts (torch's own, so no conversion is needed at the module boundary):
  conv:   x (N, Cin, H, W), weight (Cout, Cin, kh, kw), y (N, Cout, Ho, Wo), all float32,
          C-contiguous; stride and padding symmetric ints; groups = 1, dilation = 1.
  linear: x (B, in), weight (out, in), y (B, out).
A scheme may convert layouts internally; that cost belongs to the stage that pays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

import torch


@dataclass(frozen=True)
class ConvGeometry:
    stride: int = 1
    padding: int = 0

    def out_hw(self, h: int, w: int, kh: int, kw: int) -> tuple[int, int]:
        return (h + 2 * self.padding - kh) // self.stride + 1, (w + 2 * self.padding - kw) // self.stride + 1


@runtime_checkable
class SparseWeight(Protocol):
    """A sparse weight tensor in one scheme's compressed format, with its training-stage kernels.

    Every method takes ``isa=`` and ``threads=`` keywords like every kernel.
    ``values`` is the 1-D float32 tensor of stored weights (the trainable parameter), in the
    format's storage order; ``weight_grad_sampled`` returns a tensor shaped like ``values``.
    """

    scheme: str
    shape: tuple[int, ...]  # dense weight shape
    values: torch.Tensor

    @property
    def nnz(self) -> int: ...  # stored weights that can be nonzero

    @property
    def density(self) -> float: ...  # nnz / dense numel

    def to_dense(self) -> torch.Tensor: ...

    def mask(self) -> torch.Tensor: ...  # bool, dense shape

    def positions(self) -> torch.Tensor: ...  # int64 like values: flat row-major dense index, -1 = padding

    def mask_object(self) -> "Mask": ...  # the format's Mask of the current structure (no dense weight)

    def tensor_bytes(self) -> int: ...  # bytes held by the compressed format

    def forward(self, x: torch.Tensor, geometry: ConvGeometry | None = None, **kw: Any) -> torch.Tensor: ...

    def backward_data(self, dy: torch.Tensor, x_shape: tuple[int, ...], geometry: ConvGeometry | None = None,
                      **kw: Any) -> torch.Tensor: ...

    def weight_grad_sampled(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                            **kw: Any) -> torch.Tensor: ...

    def weight_grad_dense(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                          **kw: Any) -> torch.Tensor: ...

    def sgd_update(self, grad_values: torch.Tensor, momentum_buf: torch.Tensor, *, lr: float, momentum: float,
                   weight_decay: float, **kw: Any) -> None: ...  # in place on values and momentum_buf


@runtime_checkable
class Mask(Protocol):
    """A format's structured mask: its own unit-level description (kept elements, blocks,
    kernels + patterns, filters x channels), from which the format is built directly."""

    shape: tuple[int, ...]
    sparsity: float  # reached, over the real weights

    def dense(self) -> torch.Tensor: ...  # bool, weight shape (checks and masked dense twins only)


@dataclass(frozen=True)
class Format:
    """One weight-sparsity format, as the methods, modules and harness see it.

    make_mask(weight, sparsity, by="magnitude"|"random", generator=None) -> Mask
        ``weight`` is the dense weight (magnitude) or just its shape (random).
    from_mask(mask, weight=None) -> SparseWeight
        values from ``weight`` at the kept positions, or zeros; no dense bool round trip.
    from_dense_mask(weight, bool_mask) -> SparseWeight
        for callers that hold a dense bool mask (peers, tests); checks it fits the format.
    prune_grow(sw, fraction, *, generator=None, scores=None) -> Mask
        MEST-style mask update on ``sw``'s current structure: drop the round(fraction * kept)
        lowest-scored kept units (score: sum of squared values, or of ``scores``, a dense
        weight-shaped tensor, over the unit; ties: lower flat unit index dropped first) and grow as
        many units drawn uniformly (``generator``) among those not kept before this call; the kept
        unit count is unchanged. ValueError (nothing changed) on a bad fraction / scores or when
        more units would grow than are free.
    mask_from_dense(bool_mask, like=None) -> Mask
        the format's Mask of a dense bool mask (ValueError when the format cannot hold it), with
        the layout parameters (block shape, pattern library) of the SparseWeight ``like``;
        None: callers go through from_dense_mask.
    """

    name: str
    doc: str
    make_mask: Callable[..., Mask]
    from_mask: Callable[..., SparseWeight]
    from_dense_mask: Callable[[torch.Tensor, torch.Tensor], SparseWeight]
    min_sparsity: float = 0.0  # the lowest sparsity its masks can have (pattern: 5/9)
    kernel_sizes: tuple[tuple[int, int], ...] | None = None  # conv kernels it supports; None: any
    linear: bool = True  # whether it holds (out, in) linear weights
    rank: int = 100  # where tables and profiles list it: finer granularity first
    prune_grow: Callable[..., Mask] | None = None  # see above; every built-in format sets it
    mask_from_dense: Callable[..., Mask] | None = None

    def refuses(self, shape: tuple[int, ...], sparsity: float | None = None) -> str | None:
        """Why this format cannot hold a weight of ``shape`` at ``sparsity``; None if it can."""
        shape = tuple(int(v) for v in shape)
        if len(shape) == 2 and not self.linear:
            return f"{self.name} holds conv weights only, not a linear {shape}"
        if len(shape) == 4 and self.kernel_sizes is not None and shape[2:] not in self.kernel_sizes:
            sizes = ", ".join(f"{a}x{b}" for a, b in self.kernel_sizes)
            return f"{self.name} needs {sizes} kernels, got {shape[2]}x{shape[3]}"
        if len(shape) not in (2, 4):
            return f"{self.name} holds (out, in) or (Cout, Cin, kh, kw) weights, got {shape}"
        if sparsity is not None and sparsity < self.min_sparsity - 1e-9:
            return f"{self.name} sparsity must be >= {self.min_sparsity:.4g}, got {sparsity:g}"
        return None

    def accepts(self, shape: tuple[int, ...], sparsity: float | None = None) -> bool:
        return self.refuses(shape, sparsity) is None
