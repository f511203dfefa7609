"""Activation-gradient pruning (Ye et al., ECCV 2020): cross-validation ops, reference
(reference.py) vs kernels (kernels.py): DBTD threshold + stochastic pruning, the fused front end,
and the sparse-dO backward kernels.

Reference formulas (../shared/design/methods.md, section 1):
  s_hat = sqrt(pi/2) * mean|g|                        (g ~ N(0, s^2): E|g| = s * sqrt(2/pi))
  tau   = Phi^-1((1 + p) / 2) * s_hat                  (prunes a fraction p of N(0, s_hat^2))
  g_i'  = g_i                 if |g_i| >= tau
        = sign(g_i) * tau     if |g_i| < tau and |g_i| > u_i * tau,  u_i ~ U(0, 1)
        = 0                   otherwise                 => E[g_i'] = g_i (unbiased)
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...registry import Case, Comparison, Op, Paper, register
from . import kernels
from .format import compress_reference
from .reference import dbtd_threshold, stochastic_prune

PAPER = Paper(
    key="ye2020",
    title="Accelerating CNN Training by Pruning Activation Gradients",
    venue="ECCV 2020",
    url="https://arxiv.org/abs/1908.00173",
)


# --- cases: random and adversarial ------------------------------------------------------------

_SHAPES = {
    "empty": (0,),
    "one": (1,),
    "odd17": (17,),
    "block-1": (4095,),
    "block+1": (4097,),
    "odd3x5x7x9": (3, 5, 7, 9),
    "dO32x64x8x8": (32, 64, 8, 8),
    "chunks70001": (70001,),
}


def _values(kind: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(shape, generator=gen)
    if kind == "zeros":
        return torch.zeros(shape)
    if kind == "laplace":  # heavy tails: the normal assumption is only approximate
        u = torch.rand(shape, generator=gen) - 0.5
        return -torch.sign(u) * torch.log1p(-2 * u.abs())
    if kind == "signed-zeros":  # exact zeros of both signs among normal values
        g = torch.randn(shape, generator=gen)
        g[::3] = 0.0
        g[1::5] = -0.0
        return g
    raise ValueError(kind)


def _grid(kinds=("normal", "zeros", "laplace", "signed-zeros")):
    for sname, shape in _SHAPES.items():
        for kind in kinds:
            if sname in ("empty", "one") and kind != "normal":
                continue
            yield f"{sname}-{kind}", shape, kind


def threshold_cases():
    for cid, shape, kind in _grid():
        for p in (0.0, 0.5, 0.9, 0.99):
            yield Case(f"{cid}-p{p}", lambda shape=shape, kind=kind, p=p: {"g": _values(kind, shape, 1), "p": p})


def prune_cases():
    for cid, shape, kind in _grid():
        # tau = 0: nothing pruned (sparsity 0); huge tau: everything below it (sparsity -> 1);
        # the DBTD tau of the tensor itself at p = 0.9.
        for tname in ("tau0", "dbtd0.9", "huge"):
            def make(shape=shape, kind=kind, tname=tname):
                g = _values(kind, shape, 2)
                tau = {"tau0": 0.0, "huge": 1e30, "dbtd0.9": dbtd_threshold(g, 0.9)}[tname]
                return {"g": g, "tau": tau, "seed": 12345}

            yield Case(f"{cid}-{tname}", make)
    yield Case("seed-2^64-1", lambda: {"g": _values("normal", (999,), 3), "tau": 1.0, "seed": 2**64 - 1})


register(
    Op(
        method="actgrad",
        name="dbtd_threshold",
        paper=PAPER,
        reference=dbtd_threshold,
        kernel=kernels.dbtd_threshold,
        cases=threshold_cases,
        compare=Comparison(exact=True, why="fixed-order float64 reduction, same operation order"),
        stages=("front_end",),
        extra={"exempt": {"sparsity_1": "p = 1 has no finite threshold (Phi^-1(1) = inf): refused, p in [0, 1)"}},
        doc="tau = Phi^-1((1+p)/2) * sqrt(pi/2) * mean|g|",
    )
)

register(
    Op(
        method="actgrad",
        name="stochastic_prune",
        paper=PAPER,
        reference=stochastic_prune,
        kernel=kernels.stochastic_prune,
        cases=prune_cases,
        compare=Comparison(exact=True, why="counter-based RNG, elementwise float32 ops without contraction"),
        stages=("front_end", "backward_data", "weight_grad"),
        stochastic=True,
        doc="unbiased stochastic pruning of |g| < tau to 0 or sign(g)*tau",
    )
)


# --- fused front-end: prune + compress into the row-bitmap format ------------------------------
# (sparsebench.actgrad.format); the backward kernels below consume that format directly.



def _sg_dict(sg) -> dict:
    return {
        "bits": np.asarray(sg.bits),
        "values": np.asarray(sg.values),
        "rowptr": np.asarray(sg.rowptr),
    }


def prune_compress_reference(g: torch.Tensor, tau: float, seed: int) -> dict:
    """stochastic_prune (the reference above), then the readable row-bitmap encoding."""
    pruned, _ = stochastic_prune(g, tau, seed)
    return _sg_dict(compress_reference(pruned))


def prune_compress_kernel(g: torch.Tensor, tau: float, seed: int, *, isa=None, threads=0) -> dict:
    return _sg_dict(kernels.prune_compress(g, tau, seed, isa=isa, threads=threads))


_PC_SHAPES = {
    "empty": (0, 5),
    "zero-cols": (3, 0),
    "one": (1, 1),
    "odd17": (17,),
    "lin5x70": (5, 70),
    "lin1x129": (1, 129),
    "conv1x1x1x1": (1, 1, 1, 1),
    "conv2x3x7x7": (2, 3, 7, 7),
    "conv2x5x8x8": (2, 5, 8, 8),
    "conv3x4x11x13": (3, 4, 11, 13),
    "conv4x16x4x4": (4, 16, 4, 4),
    "conv2x8x16x16": (2, 8, 16, 16),
}


def prune_compress_cases():
    for sname, shape in _PC_SHAPES.items():
        for kind in ("normal", "zeros", "laplace", "signed-zeros"):
            if kind != "normal" and sname in ("empty", "zero-cols", "one"):
                continue
            if kind == "laplace" and sname not in ("lin5x70", "conv2x8x16x16"):
                continue  # heavy tails: two shapes suffice
            # tau 0: sparsity 0 (every nonzero kept); huge: sparsity -> 1; DBTD at p = 0.5 / 0.99
            for tname in ("tau0", "dbtd0.5", "dbtd0.99", "huge"):
                def make(shape=shape, kind=kind, tname=tname):
                    g = _values(kind, shape, 5)
                    p = {"dbtd0.5": 0.5, "dbtd0.99": 0.99}.get(tname)
                    tau = {"tau0": 0.0, "huge": 1e30}.get(tname) if p is None else dbtd_threshold(g, p)
                    return {"g": g, "tau": tau, "seed": 99}

                yield Case(f"{sname}-{kind}-{tname}", make)
    yield Case("seed-2^64-1", lambda: {"g": _values("normal", (6, 9, 5, 5), 3), "tau": 1.0, "seed": 2**64 - 1})


register(
    Op(
        method="actgrad",
        name="prune_compress",
        paper=PAPER,
        reference=prune_compress_reference,
        kernel=prune_compress_kernel,
        cases=prune_compress_cases,
        compare=Comparison(exact=True, why="counter-based RNG, same elementwise rule; exact encoding"),
        stages=("front_end",),
        stochastic=True,
        doc="stochastic pruning fused with row-bitmap compression (bits, packed values, rowptr)",
    )
)


# --- sparse-dO backward kernels, vs torch autograd with the same pruned dO ------------------------


def conv_dx_reference(x, weight, grad, stride, padding):
    return torch.nn.grad.conv2d_input(tuple(x.shape), weight, grad.to_dense(), stride, padding)


def conv_dx_kernel(x, weight, grad, stride, padding, *, isa=None, threads=0):
    return kernels.conv2d_backward_data(weight, grad, tuple(x.shape[2:]), stride, padding, isa=isa, threads=threads)


def conv_dw_reference(x, weight, grad, stride, padding):
    return torch.nn.grad.conv2d_weight(x, tuple(weight.shape), grad.to_dense(), stride, padding)


def conv_dw_kernel(x, weight, grad, stride, padding, *, isa=None, threads=0):
    return kernels.conv2d_weight_grad(x, grad, tuple(weight.shape[2:]), stride, padding, isa=isa, threads=threads)


# (N, Cin, H, W, Cout, k, stride, padding)
_CONV_SHAPES = {
    "3x3s1p1": (2, 5, 7, 6, 9, 3, 1, 1),
    "3x3s2p1": (2, 5, 7, 6, 9, 3, 2, 1),
    "3x3s1p0": (2, 3, 6, 6, 4, 3, 1, 0),
    "3x3s2p0-odd": (3, 7, 9, 9, 5, 3, 2, 0),
    "1x1s1": (2, 17, 5, 5, 6, 1, 1, 0),
    "1x1s2": (2, 33, 6, 7, 3, 1, 2, 0),
    "3x3-wide": (2, 40, 6, 6, 70, 3, 1, 1),
    "3x3-batch1": (1, 16, 8, 8, 8, 3, 1, 1),
    "3x3-cout1": (2, 4, 5, 5, 1, 3, 1, 1),
    "5x3-rect": (2, 3, 8, 7, 4, (5, 3), 1, (2, 1)),
    # large kernels: the weight gradient's row tiles (AlexNet conv1's 11x11 stride 4 on 3
    # channels; a 13-tap row wider than one tile, over more than two vectors of channels)
    "11x11s4-conv1": (1, 3, 23, 23, 4, 11, 4, 2),
    "1x13-row": (2, 40, 5, 15, 3, (1, 13), 1, (0, 6)),
    "empty-batch": (0, 4, 5, 5, 3, 3, 1, 1),
    "1x1-spatial": (3, 6, 1, 1, 5, 1, 1, 0),
    "3x3-tiles16": (1, 16, 16, 17, 5, 3, 1, 1),  # full 16x16 layout-transpose tiles plus edges
}


def _conv_case(shape, kind, p):
    n, cin, h, w, cout, k, st, pd = shape
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (st, st) if isinstance(st, int) else st
    ph, pw = (pd, pd) if isinstance(pd, int) else pd
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(n, cin, h, w, generator=gen)
    weight = torch.randn(cout, cin, kh, kw, generator=gen)
    g = _values(kind, (n, cout, ho, wo), 12)
    tau = 0.0 if p == 0 else (1e30 if p == 1 else dbtd_threshold(g, p))
    pruned, _ = stochastic_prune(g, tau, 5)
    grad = compress_reference(pruned)
    return {"x": x, "weight": weight, "grad": grad, "stride": (sh, sw), "padding": (ph, pw)}


def conv_cases(which):
    for sname, shape in _CONV_SHAPES.items():
        n, cin, h, w, cout, k, st, pd = shape
        kk = (k * k) if isinstance(k, int) else k[0] * k[1]
        kind_ps = [("normal", 0.0), ("normal", 0.9), ("normal", 0.99), ("normal", 1), ("zeros", 0.5)]
        if sname == "3x3s1p1":
            kind_ps.append(("laplace", 0.5))
        for kind, p in kind_ps:
            # reduction length: dX sums Cout*kh*kw products, dW sums N*Ho*Wo products
            length = cout * kk if which == "dx" else max(n * h * w, 1)
            yield Case(
                f"{sname}-{kind}-p{p}",
                lambda shape=shape, kind=kind, p=p: _conv_case(shape, kind, p),
                compare=Comparison.float32_reduction(length, scale=math.sqrt(length) * 3.0),
            )


def linear_dx_reference(x, weight, grad):
    return grad.to_dense() @ weight


def linear_dx_kernel(x, weight, grad, *, isa=None, threads=0):
    return kernels.linear_backward_data(weight, grad, isa=isa, threads=threads)


def linear_dw_reference(x, weight, grad):
    return grad.to_dense().T @ x


def linear_dw_kernel(x, weight, grad, *, isa=None, threads=0):
    return kernels.linear_weight_grad(x, grad, isa=isa, threads=threads)


_LIN_SHAPES = {"5x13x70": (5, 13, 70), "1x1x1": (1, 1, 1), "8x64x128": (8, 64, 128), "3x33x65": (3, 33, 65),
               "0x4x5": (0, 4, 5), "4x0x5": (4, 0, 5), "4x7x0": (4, 7, 0), "17x130x9": (17, 130, 9)}


def linear_cases(which):
    for sname, (b, cin, cout) in _LIN_SHAPES.items():
        for p in (0.0, 0.9, 0.99, 1):
            def make(b=b, cin=cin, cout=cout, p=p):
                gen = torch.Generator().manual_seed(21)
                x, weight = torch.randn(b, cin, generator=gen), torch.randn(cout, cin, generator=gen)
                g = torch.randn(b, cout, generator=gen)
                tau = 0.0 if p == 0 else (1e30 if p == 1 else dbtd_threshold(g, p))
                return {"x": x, "weight": weight, "grad": compress_reference(stochastic_prune(g, tau, 8)[0])}

            length = max(cout if which == "dx" else b, 1)
            yield Case(f"{sname}-p{p}", make, compare=Comparison.float32_reduction(length, scale=math.sqrt(length) * 3.0))
    # an all-zero output gradient (a dead ReLU layer) and an all-zero input
    for kind in ("zero-grad", "zero-x"):
        def make_zero(kind=kind):
            gen = torch.Generator().manual_seed(22)
            x, weight = torch.randn(5, 13, generator=gen), torch.randn(70, 13, generator=gen)
            g = torch.randn(5, 70, generator=gen)
            if kind == "zero-grad":
                g.zero_()
            else:
                x.zero_()
            return {"x": x, "weight": weight, "grad": compress_reference(stochastic_prune(g, dbtd_threshold(g, 0.5), 8)[0])}

        yield Case(f"5x13x70-{kind}", make_zero, compare=Comparison.float32_reduction(70, scale=math.sqrt(70) * 3.0))


# One op per layer kind x backward stage; per-case tolerances come from the case generators.
_BACKWARD_OPS = (
    ("conv2d", conv_cases, "direct sparse-dO conv2d backward (NHWC inside, no lowering), vs torch.nn.grad with the same dO",
     (("dx", conv_dx_reference, conv_dx_kernel, "backward_data"),
      ("dw", conv_dw_reference, conv_dw_kernel, "weight_grad"))),
    ("linear", linear_cases, "sparse-dO linear backward from the row-bitmap dO, vs dense matmul with the same dO",
     (("dx", linear_dx_reference, linear_dx_kernel, "backward_data"),
      ("dw", linear_dw_reference, linear_dw_kernel, "weight_grad"))),
)
for _layer, _cases, _doc, _stages in _BACKWARD_OPS:
    for _which, _ref, _ker, _stage in _stages:
        register(Op(method="actgrad", name=f"{_layer}_{_stage}", paper=PAPER, reference=_ref, kernel=_ker,
                    cases=lambda _cases=_cases, _which=_which: _cases(_which),
                    compare=Comparison.float32_reduction(1), stages=(_stage,), doc=_doc))
