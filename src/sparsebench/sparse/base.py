"""What every weight-sparsity scheme provides, so SparseConv2d / SparseLinear, the benchmark
harness and the methods (MEST, SWAT, SSL, filter pruning) can use any scheme the same way.

Layouts (torch's own, so no conversion is needed at the module boundary):
  conv:   x (N, Cin, H, W), weight (Cout, Cin, kh, kw), y (N, Cout, Ho, Wo), all float32,
          C-contiguous; stride and padding symmetric ints; groups = 1, dilation = 1.
  linear: x (B, in), weight (out, in), y (B, out).
A scheme may convert layouts internally; that cost belongs to the stage that pays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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
