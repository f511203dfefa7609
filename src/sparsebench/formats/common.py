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


def structured_make_mask(generate):
    """Format.make_mask for a structured generator ``generate(shape, sparsity, weight=, seed=)``:
    by magnitude of ``weight`` or at random (``weight`` may then be just a shape)."""

    def make_mask(weight, sparsity: float, by: str = "magnitude", generator: torch.Generator | None = None):
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else tuple(weight)
        return generate(shape, sparsity, weight=weight if by == "magnitude" else None, seed=seed_from(by, generator))

    return make_mask


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


# --- mask updates (prune / grow) ------------------------------------------------------------------


def check_fraction(fraction, name: str = "fraction") -> float:
    """A prune/grow fraction: a real number in [0, 1] (ValueError naming ``name`` otherwise)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a float in [0, 1], got {type(fraction).__name__} {fraction!r}")
    f = float(fraction)
    if not 0.0 <= f <= 1.0:  # NaN fails too
        raise ValueError(f"{name} must be in [0, 1], got {fraction!r}")
    return f


def unit_scores(sw, scores: torch.Tensor | None, n_units: int, per_unit: int) -> torch.Tensor:
    """float64 score of each stored unit of ``sw`` whose values are stored as ``n_units``
    consecutive runs of ``per_unit`` slots: the sum of squared values, or, with ``scores`` (a dense
    weight-shaped float tensor), the sum of scores at the unit's positions (padding slots count 0).
    Only values-sized tensors are made (scores are gathered at positions())."""
    if scores is None:
        s = sw.values.detach().to(torch.float64) ** 2
        what = "values"
    else:
        if not isinstance(scores, torch.Tensor) or not scores.dtype.is_floating_point:
            raise ValueError(f"scores must be a floating-point torch.Tensor, got "
                             f"{scores.dtype if isinstance(scores, torch.Tensor) else type(scores).__name__}")
        if tuple(scores.shape) != tuple(sw.shape):
            raise ValueError(f"scores must have the weight shape {tuple(sw.shape)}, got {tuple(scores.shape)}")
        pos = sw.positions()
        flat = scores.detach().reshape(-1)
        s = torch.where(pos >= 0, flat[pos.clamp(min=0)], torch.zeros((), dtype=flat.dtype)).to(torch.float64)
        what = "scores"
    if n_units == 0 or per_unit == 0:
        return torch.zeros(n_units, dtype=torch.float64)
    u = s.reshape(n_units, per_unit).sum(1)
    if bool(torch.isnan(u).any()):
        raise ValueError(f"{what} contain NaN: units cannot be ranked")
    return u


def prune_grow_units(n_units: int, kept: torch.Tensor, scores: torch.Tensor, fraction,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MEST prune + grow over ``n_units`` units, ``kept`` (unique unit ids, any order) scored by
    ``scores`` (one per kept id). Drops the k = round(fraction * len(kept)) lowest-scored kept units
    (stable: equal scores drop the lower unit id first) and grows k units drawn uniformly with
    ``generator`` among the units not kept before this call (so a just-pruned unit never regrows).

    Returns (new kept ids ascending, pruned ids ascending, grown ids in draw order). ValueError,
    naming ``fraction``, when k exceeds the free units."""
    f = check_fraction(fraction)
    kept = torch.as_tensor(kept).to(torch.int64).reshape(-1)
    scores = torch.as_tensor(scores).reshape(-1)
    if kept.numel() != scores.numel():
        raise ValueError(f"{kept.numel()} kept units but {scores.numel()} scores")
    order = torch.argsort(kept)
    ids, sc = kept[order], scores[order]
    n_kept = int(ids.numel())
    k = int(round(f * n_kept))
    n_free = int(n_units) - n_kept
    if k > n_free:
        raise ValueError(f"fraction={fraction!r} would prune and regrow {k} of {n_kept} kept units, but only "
                         f"{n_free} units are free to grow (sparsity too low for this fraction)")
    empty = torch.zeros(0, dtype=torch.int64)
    if k == 0:
        return ids, empty, empty
    drop = torch.argsort(sc, stable=True)[:k]
    stay = torch.ones(n_kept, dtype=torch.bool)
    stay[drop] = False
    grown = free_unit_ids(ids, sample_ranks(n_free, k, generator))
    new = torch.sort(torch.cat([ids[stay], grown])).values
    return new, torch.sort(ids[drop]).values, grown


def sample_ranks(n: int, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """k distinct integers drawn uniformly from [0, n), in draw order (a uniformly random ordered
    k-subset), in O(k) memory when k is small against n (duplicates of sequential uniform draws
    rejected), else the head of a random permutation (n <= 2k: O(k) memory too)."""
    if k <= 0:
        return torch.zeros(0, dtype=torch.int64)
    if n <= 2 * k:
        return torch.randperm(n, generator=generator)[:k]
    got = torch.zeros(0, dtype=torch.int64)
    while got.numel() < k:
        draw = torch.randint(0, n, (2 * (k - got.numel()) + 16,), generator=generator)
        allv = torch.cat([got, draw])
        uniq, inv = torch.unique(allv, return_inverse=True)
        first = torch.full((uniq.numel(),), allv.numel(), dtype=torch.int64)
        first.scatter_reduce_(0, inv, torch.arange(allv.numel()), reduce="amin")
        got = allv[torch.sort(first).values]  # first occurrences, in draw order
    return got[:k]


def free_unit_ids(kept_sorted: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """The unit id of the r-th (0-based, ascending) unit NOT in ``kept_sorted`` for each r of
    ``ranks``, in O(len(kept)) memory: kept unit kept_sorted[i] has kept_sorted[i] - i free units
    before it, so unit = r + #(kept units with fewer than r + 1 free units before them)."""
    if ranks.numel() == 0:
        return torch.zeros(0, dtype=torch.int64)
    before = kept_sorted - torch.arange(kept_sorted.numel())
    return ranks + torch.searchsorted(before, ranks, right=True)
