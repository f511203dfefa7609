"""Strided sparsity cross-validation: the masked dense conv (reference.py) vs the compacted
column-gather + GEMM path (kernels.py) on odd sizes, 3x3 / 5x5 / 11x11 kernels, m = 1 .. k,
an empty batch and an all-zero input."""

from __future__ import annotations

import torch

from ...oracle import Comparison
from ...registry import Case, Op, Paper, register
from . import kernels, reference

PAPER = Paper(key="anwar2017", title="Structured Pruning of Deep Convolutional Neural Networks",
              venue="ACM JETC 2017", url="https://arxiv.org/abs/1512.08571")

_GEOMS = {  # (N, Cin, H, W, Cout, k, stride, pad)
    "1x1x5x5-c1-k3": (1, 1, 5, 5, 1, 3, 1, 1),
    "2x3x9x7-c5-k3": (2, 3, 9, 7, 5, 3, 1, 1),
    "2x4x13x13-c6-k5s2": (2, 4, 13, 13, 6, 5, 2, 2),
    "1x3x35x35-c4-k11s4": (1, 3, 35, 35, 4, 11, 4, 2),
    "3x16x8x8-c17-k3": (3, 16, 8, 8, 17, 3, 1, 1),
    "0x3x9x7-c5-k3": (0, 3, 9, 7, 5, 3, 1, 1),  # empty batch
}
_ZERO_X = ("2x3x9x7-c5-k3",)  # an all-zero input as well


def cases():
    for gname, (n, cin, h, w, cout, k, s, p) in _GEOMS.items():
        ms = (2,) if n == 0 else sorted({1, 2, 3, k} & set(range(1, k + 1)))
        for m, zero_x in [(m, False) for m in ms] + ([(2, True)] if gname in _ZERO_X else []):
            def make(n=n, cin=cin, h=h, w=w, cout=cout, k=k, s=s, p=p, m=m, zero_x=zero_x):
                gen = torch.Generator().manual_seed(7)
                x = torch.randn(n, cin, h, w, generator=gen)
                return {"x": torch.zeros_like(x) if zero_x else x, "w": torch.randn(cout, cin, k, k, generator=gen),
                        "m": m, "offs": reference.offsets(cin, m, seed=3), "stride": s, "padding": p}

            yield Case(f"{gname}-m{m}{'-zeros-x' if zero_x else ''}", make,
                       Comparison.float32_reduction(cin * k * k, scale=4.0))


register(Op(method="strided", name="forward", paper=PAPER, reference=reference.forward, kernel=kernels.forward,
            cases=cases, compare=Comparison.float32_reduction(1000, scale=4.0), stages=("forward",),
            doc="taps on a stride-m grid per input map; lowered columns dropped, compact GEMM"))
