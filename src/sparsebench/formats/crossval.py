"""Cross-validation ops every format registers for its stage kernels (make_stage_ops).

References are torch's dense ops on the masked dense weight (to_dense()); kernels are the
format's own stages. Cases: odd channels, batch 1, empty batch, stride 2, 1x1, and sparsity 0
and 1 wherever the format allows them.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..registry import Case, Comparison, Op, Paper, register
from .base import ConvGeometry

MEST = Paper(
    key="yuan2021",
    title="MEST: Accurate and Fast Memory-Economic Sparse Training Framework on the Edge",
    venue="NeurIPS 2021",
    url="https://arxiv.org/abs/2110.14032",
)

# (id, N, Cin, H, W, Cout, k, stride, padding): odd channels, batch 1, empty batch, stride 2, 1x1.
CONV_SHAPES = [
    ("odd5x9-7x6", 2, 5, 7, 6, 9, 3, 1, 1),
    ("s2-8x16", 3, 8, 9, 9, 16, 3, 2, 1),
    ("1x1s2-6x7", 2, 6, 5, 5, 7, 1, 2, 0),
    ("batch1-4x4", 1, 4, 4, 4, 4, 3, 1, 1),
    ("emptybatch", 0, 4, 5, 5, 4, 3, 1, 1),
    ("s2p2-6x3", 2, 6, 7, 7, 3, 3, 2, 2),
    # stride 2 on even widths: the interleaving unpack of the phase planes (odd and even padding)
    ("s2even-6x5", 2, 6, 8, 10, 5, 3, 2, 1),
    ("s2even-p0-4x6", 3, 4, 6, 8, 6, 3, 2, 0),
    ("res-16x16", 4, 16, 8, 8, 16, 3, 1, 1),
    # pointwise (1x1, stride 1, unpadded): the NCHW-planes paths. Odd plane (35 positions: a
    # partial last vector), planes long enough for several tiles with a partial vector inside a
    # tile that spans images (21 * 19), and 1-pixel planes (the transposed linear path).
    ("1x1-9x11", 3, 9, 5, 7, 11, 1, 1, 0),
    ("1x1-20x19", 2, 20, 21, 19, 19, 1, 1, 0),
    ("1x1px-24x13", 5, 24, 1, 1, 13, 1, 1, 0),
]
# (id, B, in, out)
LINEAR_SHAPES = [("odd-7x13x11", 7, 13, 11), ("b1-1x16x8", 1, 16, 8), ("empty-0x8x8", 0, 8, 8),
                 ("b33-33x32x24", 33, 32, 24)]
SPARSITIES = (0.0, 0.5, 0.9, 1.0)


def _rand(shape, seed: int, kind: str = "normal") -> torch.Tensor:
    if kind == "zeros":
        return torch.zeros(shape)
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def conv_out_hw(h, w, k, s, p):
    return ConvGeometry(s, p).out_hw(h, w, k, k)


def _cmp(length: int) -> Comparison:
    return Comparison.float32_reduction(max(length, 1), scale=math.sqrt(max(length, 1)))


def conv_cases(make_weight: Callable[[tuple, float, torch.Tensor], Any], stage: str, *, shapes=CONV_SHAPES,
               sparsities=SPARSITIES, need3x3: bool = False):
    """Cases for one conv stage; make_weight(shape, sparsity, dense) builds the sparse weight."""
    mid = next((sp for sp in sparsities if 0.0 < sp < 1.0), sparsities[0])

    def gen():
        for sid, n, ci, h, w, co, k, s, p in shapes:
            if need3x3 and k != 3:
                continue
            ho, wo = conv_out_hw(h, w, k, s, p)
            for sp in sparsities:
                if sp in (0.0, 1.0) and sid not in ("odd5x9-7x6", "s2-8x16"):
                    continue  # the extremes on two shapes only
                for kind in (("normal", "zeros") if (sp == mid and sid == "odd5x9-7x6") else ("normal",)):
                    def make(n=n, ci=ci, h=h, w=w, co=co, k=k, s=s, p=p, sp=sp, kind=kind, ho=ho, wo=wo):
                        dense = _rand((co, ci, k, k), 11)
                        wt = make_weight((co, ci, k, k), sp, dense)
                        x = _rand((n, ci, h, w), 12, kind)
                        dy = _rand((n, co, ho, wo), 13, kind)
                        if stage == "forward":
                            return {"x": x, "w": wt, "stride": s, "padding": p}
                        if stage == "backward_data":
                            return {"dy": dy, "w": wt, "x_shape": (n, ci, h, w), "stride": s, "padding": p}
                        return {"x": x, "dy": dy, "w": wt, "stride": s, "padding": p}

                    red = {"forward": ci * k * k, "backward_data": co * k * k, "weight_grad": n * ho * wo}[stage]
                    yield Case(f"{sid}-s{sp}-{kind}", make, compare=_cmp(red))
    return gen


def linear_cases(make_weight, stage: str, *, shapes=LINEAR_SHAPES, sparsities=SPARSITIES):
    mid = next((sp for sp in sparsities if 0.0 < sp < 1.0), sparsities[0])

    def gen():
        for sid, b, fin, fout in shapes:
            for sp in sparsities:
                kinds = ("normal", "zeros") if (sp == mid and sid == shapes[0][0]) else ("normal",)
                for kind in kinds:
                    def make(b=b, fin=fin, fout=fout, sp=sp, kind=kind):
                        wt = make_weight((fout, fin), sp, _rand((fout, fin), 21))
                        x, dy = _rand((b, fin), 22, kind), _rand((b, fout), 23, kind)
                        if stage == "forward":
                            return {"x": x, "w": wt}
                        if stage == "backward_data":
                            return {"dy": dy, "w": wt, "x_shape": (b, fin)}
                        return {"x": x, "dy": dy, "w": wt}

                    red = {"forward": fin, "backward_data": fout, "weight_grad": b}[stage]
                    yield Case(f"{sid}-s{sp}" + ("-zeros" if kind == "zeros" else ""), make, compare=_cmp(red))
    return gen


# --- references: torch dense ops on the masked dense weight ----------------------------------------

def ref_conv_forward(x, w, stride, padding):
    return F.conv2d(x, w.to_dense(), stride=stride, padding=padding)


def ref_conv_backward_data(dy, w, x_shape, stride, padding):
    return torch.nn.grad.conv2d_input(tuple(x_shape), w.to_dense(), dy, stride=stride, padding=padding)


def ref_conv_weight_grad_sampled(x, dy, w, stride, padding):
    dw = torch.nn.grad.conv2d_weight(x, tuple(w.shape), dy, stride=stride, padding=padding)
    return w.values_from_dense(dw * w.mask())


def ref_linear_forward(x, w):
    return F.linear(x, w.to_dense())


def ref_linear_backward_data(dy, w, x_shape):
    return dy.mm(w.to_dense())


def ref_linear_weight_grad_sampled(x, dy, w):
    return w.values_from_dense(dy.t().mm(x) * w.mask())



# --- kernels: the scheme's stages --------------------------------------------------------------------

def k_conv_forward(x, w, stride, padding, **kw):
    return w.forward(x, ConvGeometry(stride, padding), **kw)


def k_conv_backward_data(dy, w, x_shape, stride, padding, **kw):
    return w.backward_data(dy, tuple(x_shape), ConvGeometry(stride, padding), **kw)


def k_conv_weight_grad_sampled(x, dy, w, stride, padding, **kw):
    return w.weight_grad_sampled(x, dy, ConvGeometry(stride, padding), **kw)


def k_linear_forward(x, w, **kw):
    return w.forward(x, None, **kw)


def k_linear_backward_data(dy, w, x_shape, **kw):
    return w.backward_data(dy, tuple(x_shape), None, **kw)


def k_linear_weight_grad_sampled(x, dy, w, **kw):
    return w.weight_grad_sampled(x, dy, None, **kw)




def make_stage_ops(method: str, paper: Paper, make_weight, *, linear: bool, need3x3: bool = False,
                   conv_shapes=CONV_SHAPES, sparsities=SPARSITIES, note: str = "", native: bool = True,
                   exempt: dict[str, str] | None = None) -> None:
    """Register the format's conv (and linear) stage ops; ``exempt``: case kinds the format
    cannot take, with the reason (tests/test_case_coverage.py)."""
    extra = {"exempt": dict(exempt or {})}
    default = Comparison.float32_reduction(1024)
    conv = [
        ("conv_forward", ref_conv_forward, k_conv_forward, "forward", ("forward",)),
        ("conv_backward_data", ref_conv_backward_data, k_conv_backward_data, "backward_data", ("backward_data",)),
        ("conv_weight_grad_sampled", ref_conv_weight_grad_sampled, k_conv_weight_grad_sampled, "weight_grad",
         ("weight_grad_sampled",)),
    ]
    for name, ref, ker, stage, stages in conv:
        register(Op(method=method, name=name, paper=paper, reference=ref, kernel=ker, native=native, extra=extra,
                    cases=conv_cases(make_weight, stage, shapes=conv_shapes, sparsities=sparsities, need3x3=need3x3),
                    compare=default, stages=stages, doc=f"{method} {name}{note}"))
    if linear:
        lin = [
            ("linear_forward", ref_linear_forward, k_linear_forward, "forward", ("forward",)),
            ("linear_backward_data", ref_linear_backward_data, k_linear_backward_data, "backward_data",
             ("backward_data",)),
            ("linear_weight_grad_sampled", ref_linear_weight_grad_sampled, k_linear_weight_grad_sampled,
             "weight_grad", ("weight_grad_sampled",)),
        ]
        for name, ref, ker, stage, stages in lin:
            register(Op(method=method, name=name, paper=paper, reference=ref, kernel=ker, native=native, extra=extra,
                        cases=linear_cases(make_weight, stage, sparsities=sparsities), compare=default,
                        stages=stages, doc=f"{method} {name}{note}"))
