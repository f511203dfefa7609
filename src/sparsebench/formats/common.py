"""What the formats share: sparsity checks, the unit chooser of the structured mask generators,
the conv view of a weight shape, and the dense weight gradient (for regrowth criteria).

Every structured mask generator reaches a target sparsity by magnitude (``weight`` given: keep the
units with the largest sum of squares) or at random (``weight=None``: a seeded random choice),
exactly up to the scheme's granularity (one unit), and reports the sparsity it reached over the
real weights. The results are unit-level descriptions (kept blocks, kept kernels and their
patterns, kept filters / channels), from which the formats are built without a dense intermediate.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import ConvGeometry

def check_sparsity(s: float, name: str = "sparsity") -> float:
    if isinstance(s, bool) or not isinstance(s, (int, float, np.floating)):
        raise TypeError(f"{name} must be a float in [0, 1], got {type(s).__name__}")
    if not 0.0 <= float(s) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {s}")
    return float(s)


BY = ("magnitude", "random")


def seed_from(by: str, generator: torch.Generator | None) -> int:
    """The structured generators' integer seed, drawn from ``generator`` (0 without one)."""
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, got {by!r}")
    if generator is None:
        return 0
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))


def _conv_shape(shape) -> tuple[int, int, int, int]:
    shape = tuple(int(v) for v in shape)
    if len(shape) == 2:
        return shape[0], shape[1], 1, 1
    if len(shape) != 4:
        raise ValueError(f"weight shape must be 2-D (linear) or 4-D (conv), got {shape}")
    return shape  # type: ignore[return-value]


def _choose(scores: torch.Tensor, sizes: torch.Tensor, target_kept: float, weight_given: bool,
            seed: int) -> torch.Tensor:
    """Bool keep-vector over units: the best-scoring (or a random) prefix whose element count is
    closest to target_kept."""
    n = scores.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.bool)
    if weight_given:
        order = torch.argsort(scores, descending=True, stable=True)
    else:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    cum = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(sizes[order].double(), 0)])
    k = int(torch.argmin((cum - target_kept).abs()).item())
    keep = torch.zeros(n, dtype=torch.bool)
    keep[order[:k]] = True
    return keep




def dense_weight_grad(x: torch.Tensor, dy: torch.Tensor, shape, geometry: ConvGeometry | None) -> torch.Tensor:
    """The full dense dW (for growth criteria): torch's dense kernel, nothing to skip."""
    if len(shape) == 2:
        return dy.t().mm(x)
    g = geometry or ConvGeometry()
    return torch.nn.grad.conv2d_weight(x, tuple(shape), dy, stride=g.stride, padding=g.padding)
