"""The strided-sparse convolution as a compacted dense problem: the zero columns the grid leaves
are dropped by the shared column gather (formats/lowered.py: im2col of the kept columns only) and
the rest is one GEMM per sample. Offsets are shared by all kernels of an input
map, so every filter keeps the same columns and nothing per filter is indexed."""

from __future__ import annotations

import torch

from ...formats.lowered import CompactConv2d
from .reference import apply


class StridedConv2d:
    def __init__(self, w: torch.Tensor, m: int, offs: torch.Tensor, stride: int = 1, padding: int = 0, *,
                 threads: int = 0, isa: str | None = None) -> None:
        self.m = m
        self.compact = CompactConv2d(apply(w, m, offs).contiguous(), None, stride, padding, threads=threads, isa=isa)
        self.density = self.compact.flop_fraction

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.compact(x)


def forward(x, w, m, offs, stride=1, padding=0, *, isa=None, threads=0):
    """Same arguments as reference.forward (the cross-validation pair)."""
    return StridedConv2d(w, m, offs, stride, padding, threads=threads, isa=isa)(x)
