"""TernGrad (Wen et al., NIPS 2017): the readable reference formulas.

  s      = max|g|                                    (mode "max": no clipping)
         = min(c * std(g), max|g|), c = 2.5          (mode "std": |g| > s is clipped to s;
                                                      max|g| where c * std(g) is 0)
  t_i    = sign(g_i) * b_i,  b_i = [|g_i| > u_i * s], u_i ~ U[0, 1)   (counter-based RNG)
  g~_i   = s * t_i                                    => E[g~_i] = g_i wherever |g_i| <= s
  code_i = t_i + 1 in {0, 1, 2}, 4 codes a byte (element 4k + j at bits 2j of byte k; padding 1)
  decode: out_i (+)= (sum over ranks r of t_{r,i}) * scale    (scale = s / ranks averages)
(../shared/design/methods.md, section 2 and "What the authors' code does".) The unbiasedness
holds up to the 2^-24 resolution of u: P(b_i = 1) = ceil(2^24 |g_i| / s) / 2^24.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ... import rng

BLOCK = 4096  # kernels/terngrad/terngrad.hpp: kTernBlock
_LANES = 8
MODES = ("max", "std")


def _block_lane_sum(x: np.ndarray) -> float:
    """Sum of float64 values in the kernel's order: element j of a block of BLOCK goes to lane
    j % 8 in order, lanes added left to right, block sums added in block order."""
    n = x.size
    if n == 0:
        return 0.0
    nb = -(-n // BLOCK)
    padded = np.zeros(nb * BLOCK, dtype=np.float64)  # +0.0 leaves every partial sum exact
    padded[:n] = x
    rows = padded.reshape(nb, BLOCK // _LANES, _LANES)
    acc = np.zeros((nb, _LANES), dtype=np.float64)
    for i in range(rows.shape[1]):
        acc += rows[:, i, :]
    block = acc[:, 0].copy()
    for lane in range(1, _LANES):
        block += acc[:, lane]
    return float(np.cumsum(block)[-1])


def scaler(g: torch.Tensor, mode: str = "max", c: float = 2.5) -> float:
    """The per-layer scaler s (a float32 value); ValueError on NaN / Inf in g."""
    a = g.detach().reshape(-1).to(torch.float32).numpy()
    bad = int((~np.isfinite(a)).sum())
    if bad:
        raise ValueError(f"g contains {bad} NaN/Inf values; TernGrad refuses non-finite gradients")
    maxabs = float(np.abs(a).max()) if a.size else 0.0
    if mode == "max" or a.size == 0:
        return maxabs
    x = a.astype(np.float64)
    mean = _block_lane_sum(x) / a.size
    var = _block_lane_sum(x * x) / a.size - mean * mean
    s = float(np.float32(c * math.sqrt(max(var, 0.0))))
    return maxabs if not s > 0.0 or s > maxabs else s


def ternarize(g: torch.Tensor, s: float, seed: int) -> torch.Tensor:
    """t in {-1, 0, +1} (int8, g's shape): sign(g) where |g| > u * s."""
    u = torch.from_numpy(rng.uniform(seed, g.numel())).reshape(g.shape)
    fire = g.abs() > u * torch.tensor(s, dtype=torch.float32)
    return (torch.sign(g) * fire).to(torch.int8)


def pack(t: torch.Tensor) -> torch.Tensor:
    """2-bit codes t + 1, 4 a byte, element 4k + j at bits 2j of byte k; padding code 1."""
    codes = (t.reshape(-1).to(torch.int32) + 1)
    pad = (-codes.numel()) % 4
    codes = torch.cat([codes, torch.ones(pad, dtype=torch.int32)]).reshape(-1, 4)
    byte = codes[:, 0] | (codes[:, 1] << 2) | (codes[:, 2] << 4) | (codes[:, 3] << 6)
    return byte.to(torch.uint8)


def unpack(packed: torch.Tensor, n: int) -> torch.Tensor:
    """t in {-1, 0, +1} (int8, n values) from the packed bytes."""
    b = packed.reshape(-1).to(torch.int32)
    codes = torch.stack([(b >> (2 * j)) & 3 for j in range(4)], dim=1).reshape(-1)[:n]
    return (codes - 1).to(torch.int8)


def ternarize_pack(g: torch.Tensor, s: float, seed: int) -> torch.Tensor:
    return pack(ternarize(g, s, seed))


def decode(packed: torch.Tensor, n: int, scale: float, *, offset: int = 0, out: torch.Tensor | None = None,
           accumulate: bool = False) -> torch.Tensor:
    """out (+)= float32(sum over rows of t) * scale; ``packed`` is (bytes,) or (ranks, bytes)."""
    rows = packed.reshape(1, -1) if packed.dim() == 1 else packed
    nb = (n + 3) // 4
    t = torch.stack([unpack(r[offset:offset + nb], n).to(torch.int32) for r in rows]).sum(0)
    y = t.to(torch.float32) * torch.tensor(scale, dtype=torch.float32)
    if accumulate:
        return out.reshape(-1) + y
    return y


def ternary_gradient(g: torch.Tensor, seed: int, mode: str = "max", c: float = 2.5) -> torch.Tensor:
    """The gradient one worker contributes, s * t (the authors' float emulation of TernGrad)."""
    s = scaler(g, mode, c)
    return ternarize(g, s, seed).to(torch.float32) * s
