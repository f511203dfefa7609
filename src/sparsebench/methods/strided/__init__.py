"""Intra-kernel strided sparsity (Anwar, Hwang & Sung 2017): kernel taps kept on a stride-m grid
with per-input-map offsets, shared by every kernel reading that map, so the lowered weight loses
whole columns and the convolution is a smaller dense GEMM (the SSL column-gather path).

  reference.py  grid mask, masked dense conv      kernels.py  StridedConv2d (compacted)
  ops.py        cross-validation ops              bench.py    benchmark cases
"""

from __future__ import annotations

from ..base import Method
from . import bench
from .kernels import StridedConv2d
from .reference import apply, offsets, tap_mask


class StridedMethod(Method):
    name = "strided"
    suite = bench.SUITE
    title = "intra-kernel strided sparsity (taps on a stride-m grid, compacted columns)"
    rate_label = "nominal sparsity 1 - 1/m^2"
    stages = bench.STAGES
    bench = bench


METHOD = StridedMethod()

__all__ = ["METHOD", "StridedConv2d", "apply", "offsets", "tap_mask"]
