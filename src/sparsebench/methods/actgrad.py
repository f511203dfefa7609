"""Activation-gradient pruning (Ye et al., ECCV 2020): DBTD threshold + stochastic pruning.

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

from .. import kernels, rng
from .registry import Case, Comparison, Op, Paper, register

PAPER = Paper(
    key="ye2020",
    title="Accelerating CNN Training by Pruning Activation Gradients",
    venue="ECCV 2020",
    url="https://arxiv.org/abs/1908.00173",
)


def dbtd_threshold(g: torch.Tensor, p: float) -> float:
    """Distribution-based threshold tau for pruning rate p (float32 value)."""
    z = kernels.normal_quantile_for_rate(p)
    n = g.numel()
    if n == 0:
        return 0.0
    # mean|g| with the kernels' fixed summation order, so the threshold is bit-identical.
    mean_abs = rng.abs_sum_det(g.detach().cpu().numpy()) / n
    s_hat = math.sqrt(math.pi / 2.0) * mean_abs
    return float(np.float32(z * s_hat))


def stochastic_prune(g: torch.Tensor, tau: float, seed: int) -> tuple[torch.Tensor, int]:
    """Prune |g| < tau stochastically (unbiased); returns (pruned, number of nonzeros)."""
    tau_t = torch.tensor(tau, dtype=torch.float32)
    u = torch.from_numpy(rng.uniform(seed, g.numel())).reshape(g.shape)
    a = g.abs()
    promoted = torch.where(a > u * tau_t, torch.copysign(tau_t.expand_as(g), g), torch.zeros_like(g))
    out = torch.where(a >= tau_t, g, promoted)
    return out, int(torch.count_nonzero(out))


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
