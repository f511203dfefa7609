"""Activation-gradient pruning (Ye et al., ECCV 2020): the readable reference formulas.

  s_hat = sqrt(pi/2) * mean|g|                        (g ~ N(0, s^2): E|g| = s * sqrt(2/pi))
  tau   = Phi^-1((1 + p) / 2) * s_hat                  (prunes a fraction p of N(0, s_hat^2))
  g_i'  = g_i                 if |g_i| >= tau
        = sign(g_i) * tau     if |g_i| < tau and |g_i| > u_i * tau,  u_i ~ U(0, 1)
        = 0                   otherwise                 => E[g_i'] = g_i (unbiased)
(../shared/design/methods.md, section 1.)
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ... import rng
from .kernels import normal_quantile_for_rate


def dbtd_threshold(g: torch.Tensor, p: float) -> float:
    """Distribution-based threshold tau for pruning rate p (float32 value)."""
    z = normal_quantile_for_rate(p)
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
