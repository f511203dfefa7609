"""Mask generators for the structured schemes (block, pattern, filter/channel).

Every generator reaches a target sparsity by magnitude (``weight`` given: keep the units with the
largest sum of squares) or at random (``weight=None``: a seeded random choice), exactly up to the
scheme's granularity (one unit), and reports the sparsity it reached over the real weights.
The results are unit-level descriptions (kept blocks, kept kernels and their patterns, kept
filters / channels), from which the formats are built without a dense intermediate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# 3x3 tap indices kh*3+kw. Eight 4-tap patterns that all keep the centre (PatDNN / MEST style):
# four "T" shapes (centre + 3 of the 4 cross arms) and four "corner" shapes (centre + 2 adjacent
# arms + the corner between them).
PATTERN_LIBRARY = torch.tensor(
    [
        [1, 3, 4, 5],  # T up
        [3, 4, 5, 7],  # T down
        [1, 3, 4, 7],  # T left
        [1, 4, 5, 7],  # T right
        [0, 1, 3, 4],  # corner up-left
        [1, 2, 4, 5],  # corner up-right
        [3, 4, 6, 7],  # corner down-left
        [4, 5, 7, 8],  # corner down-right
    ],
    dtype=torch.int32,
)


def check_sparsity(s: float, name: str = "sparsity") -> float:
    if isinstance(s, bool) or not isinstance(s, (int, float)):
        raise TypeError(f"{name} must be a float in [0, 1], got {type(s).__name__}")
    if not 0.0 <= float(s) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {s}")
    return float(s)


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


@dataclass
class BlockMask:
    """Kept blocks of the tap-major BSR grid: keep[block_row, tap * ncb + ci_block]."""

    shape: tuple[int, ...]
    block: tuple[int, int]
    keep: torch.Tensor  # bool (nbr, T * ncb)
    sparsity: float  # reached, over the real weights

    def dense(self) -> torch.Tensor:
        co, ci, kh, kw = _conv_shape(self.shape)
        bo, bi = self.block
        nbr, ncb, t = -(-co // bo), -(-ci // bi), kh * kw
        m = self.keep.reshape(nbr, 1, t, ncb, 1).expand(nbr, bo, t, ncb, bi).reshape(nbr * bo, t, ncb * bi)
        m = m[:co, :, :ci].reshape(co, kh, kw, ci).permute(0, 3, 1, 2)
        return m.reshape(self.shape).contiguous()


def _block_sizes(co: int, ci: int, t: int, bo: int, bi: int) -> torch.Tensor:
    """Number of real weights in each block of the (nbr, T, ncb) grid (partial blocks at the edges)."""
    nbr, ncb = -(-co // bo), -(-ci // bi)
    rows = torch.full((nbr,), bo, dtype=torch.int64)
    if nbr:
        rows[-1] = co - (nbr - 1) * bo
    cols = torch.full((ncb,), bi, dtype=torch.int64)
    if ncb:
        cols[-1] = ci - (ncb - 1) * bi
    return (rows[:, None, None] * cols[None, None, :]).expand(nbr, t, ncb)


def _block_scores(weight: torch.Tensor, bo: int, bi: int) -> torch.Tensor:
    co, ci, kh, kw = _conv_shape(weight.shape)
    nbr, ncb, t = -(-co // bo), -(-ci // bi), kh * kw
    w2 = weight.detach().reshape(co, ci, t).permute(0, 2, 1).float() ** 2  # (co, t, ci)
    w2 = torch.nn.functional.pad(w2, (0, ncb * bi - ci, 0, 0, 0, nbr * bo - co))
    return w2.reshape(nbr, bo, t, ncb, bi).sum(dim=(1, 4))  # (nbr, t, ncb)


def block_mask(shape, sparsity: float, *, block=(4, 4), weight: torch.Tensor | None = None, seed: int = 0,
               structure: str = "block", group: tuple[int, int] = (16, 16)) -> BlockMask:
    """Block sparsity on the tap-major grid (blocks of bo output x bi input channels at one tap).

    structure:
      "block"   - the pruned unit is one (bo, bi) block;
      "columns" - MEST-style: inside fixed groups of group[0] output channels, whole columns
                  (one bi-wide input-channel block at one tap, group[0] rows tall) are pruned;
      "rows"    - MEST-style: inside fixed groups of group[1] input channels, whole rows
                  (bo output channels, group[1] input channels wide at one tap) are pruned.
    group sizes must be multiples of the block so every unit is a union of stored blocks
    (with block (1, bi) "rows" prunes literal single rows, with (bo, 1) "columns" single columns).
    """
    s = check_sparsity(sparsity)
    co, ci, kh, kw = _conv_shape(shape)
    bo, bi = (int(v) for v in block)
    if bo not in (1, 2, 4, 8) or bi not in (1, 2, 4, 8):
        raise ValueError(f"block sizes must be 1, 2, 4 or 8, got {block}")
    if weight is not None and tuple(weight.shape) != tuple(shape):
        raise ValueError(f"weight shape {tuple(weight.shape)} != shape {tuple(shape)}")
    nbr, ncb, t = -(-co // bo), -(-ci // bi), kh * kw
    sizes = _block_sizes(co, ci, t, bo, bi)
    scores = _block_scores(weight, bo, bi) if weight is not None else torch.zeros(nbr, t, ncb)
    if structure == "block":
        gr, gc = 1, 1
    elif structure == "columns":
        if group[0] % bo:
            raise ValueError(f"group[0]={group[0]} must be a multiple of bo={bo}")
        gr, gc = group[0] // bo, 1
    elif structure == "rows":
        if group[1] % bi:
            raise ValueError(f"group[1]={group[1]} must be a multiple of bi={bi}")
        gr, gc = 1, group[1] // bi
    else:
        raise ValueError(f"structure must be 'block', 'columns' or 'rows', got {structure!r}")
    # Units: gr block rows x gc block columns at one tap (edge units may be smaller).
    ur, uc = -(-nbr // gr), -(-ncb // gc)

    def pool(a):
        a = torch.nn.functional.pad(a.double(), (0, uc * gc - ncb, 0, 0, 0, ur * gr - nbr))
        return a.reshape(ur, gr, t, uc, gc).sum(dim=(1, 4))

    total = co * ci * t
    keep_u = _choose(pool(scores).flatten(), pool(sizes).flatten(), (1.0 - s) * total, weight is not None, seed)
    keep_u = keep_u.reshape(ur, 1, t, uc, 1).expand(ur, gr, t, uc, gc).reshape(ur * gr, t, uc * gc)
    keep = keep_u[:nbr, :, :ncb].contiguous()
    kept = int(sizes[keep].sum()) if total else 0
    return BlockMask(tuple(shape), (bo, bi), keep.reshape(nbr, t * ncb), 1.0 - kept / total if total else 0.0)


@dataclass
class PatternMask:
    """Kept 3x3 kernels and the pattern (row of ``library``) each keeps."""

    shape: tuple[int, ...]
    keep: torch.Tensor  # bool (Cout, Cin)
    pattern: torch.Tensor  # int64 (Cout, Cin), meaningful where keep
    library: torch.Tensor  # int32 (NP, 4)
    sparsity: float

    def dense(self) -> torch.Tensor:
        co, ci = self.keep.shape
        taps = torch.zeros(self.library.shape[0], 9, dtype=torch.bool)
        taps.scatter_(1, self.library.long(), True)
        m = taps[self.pattern] & self.keep[..., None]
        return m.reshape(co, ci, 3, 3)


def pattern_mask(shape, sparsity: float, *, weight: torch.Tensor | None = None, seed: int = 0,
                 library: torch.Tensor = PATTERN_LIBRARY) -> PatternMask:
    """Each 3x3 kernel keeps the 4 taps of one library pattern (the one keeping the most energy,
    or a random one); connectivity sparsity then removes whole kernels (smallest kept energy, or
    at random) until the target is reached. Needs sparsity >= 5/9."""
    s = check_sparsity(sparsity)
    co, ci, kh, kw = _conv_shape(shape)
    if (kh, kw) != (3, 3):
        raise ValueError(f"pattern sparsity needs 3x3 kernels, got {kh}x{kw}")
    if s < 5.0 / 9.0 - 1e-9:
        raise ValueError(f"pattern sparsity keeps at most 4 of 9 taps: sparsity must be >= 5/9, got {s}")
    lib = library.to(torch.int32)
    if lib.ndim != 2 or lib.shape[1] != 4:
        raise ValueError(f"library must have shape (NP, 4), got {tuple(lib.shape)}")
    npat = lib.shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    if weight is not None:
        if tuple(weight.shape) != tuple(shape):
            raise ValueError(f"weight shape {tuple(weight.shape)} != shape {tuple(shape)}")
        e = weight.detach().reshape(co, ci, 9).float() ** 2
        per = e[:, :, lib.long()].sum(-1)  # (co, ci, NP)
        best, pat = per.max(-1)
    else:
        pat = torch.randint(0, npat, (co, ci), generator=gen)
        best = torch.zeros(co, ci)
    n = co * ci
    keep = _choose(best.flatten(), torch.ones(n), (1.0 - s) * 9.0 / 4.0 * n, weight is not None, seed + 1)
    keep = keep.reshape(co, ci)
    reached = 1.0 - 4.0 * int(keep.sum()) / (9.0 * n) if n else 0.0
    return PatternMask(tuple(shape), keep, pat.long(), lib, reached)


@dataclass
class FilterMask:
    """Kept output filters and input channels (sorted int64 indices)."""

    shape: tuple[int, ...]
    out_idx: torch.Tensor
    in_idx: torch.Tensor
    sparsity: float

    def dense(self) -> torch.Tensor:
        co, ci = self.shape[0], self.shape[1]
        rows = torch.zeros(co, dtype=torch.bool)
        rows[self.out_idx] = True
        cols = torch.zeros(ci, dtype=torch.bool)
        cols[self.in_idx] = True
        full = rows[:, None] & cols[None, :]
        return full.reshape(co, ci, *([1] * (len(self.shape) - 2))).expand(self.shape).contiguous()


def filter_mask(shape, sparsity: float, *, weight: torch.Tensor | None = None, seed: int = 0,
                mode: str = "filters") -> FilterMask:
    """Remove whole output filters ("filters", L1-norm ranking as in Li et al.), whole input
    channels ("channels"), or both with the same kept fraction sqrt(1 - s) ("both")."""
    s = check_sparsity(sparsity)
    shape = tuple(int(v) for v in shape)
    co, ci = shape[0], shape[1]
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(f"weight shape {tuple(weight.shape)} != shape {shape}")
    if mode not in ("filters", "channels", "both"):
        raise ValueError(f"mode must be 'filters', 'channels' or 'both', got {mode!r}")
    a = weight.detach().abs().float() if weight is not None else None
    frac_o = 1.0 - s if mode == "filters" else (1.0 if mode == "channels" else (1.0 - s) ** 0.5)
    frac_i = 1.0 - s if mode == "channels" else (1.0 if mode == "filters" else (1.0 - s) ** 0.5)

    def pick(n, frac, score, sd):
        if frac >= 1.0:
            return torch.arange(n)
        sc = score if score is not None else torch.zeros(n)
        keep = _choose(sc, torch.ones(n), frac * n, score is not None, sd)
        return torch.nonzero(keep).flatten()

    so = a.sum(dim=tuple(d for d in range(a.ndim) if d != 0)) if a is not None else None
    si = a.sum(dim=tuple(d for d in range(a.ndim) if d != 1)) if a is not None else None
    out_idx = pick(co, frac_o, so, seed)
    in_idx = pick(ci, frac_i, si, seed + 1)
    reached = 1.0 - (len(out_idx) * len(in_idx)) / (co * ci) if co * ci else 0.0
    return FilterMask(shape, out_idx.long(), in_idx.long(), reached)
