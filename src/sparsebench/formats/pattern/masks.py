"""Pattern masks: each kept 3x3 kernel keeps the 4 taps of one library pattern."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..common import _choose, _conv_shape, check_sparsity, prune_grow_units, unit_scores

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
TAPS_KEPT = PATTERN_LIBRARY.shape[1]  # every pattern keeps 4 of the 9 taps
# the lowest sparsity a pattern mask can have: every kernel kept, each with 4 of 9 taps
MIN_SPARSITY = 1.0 - TAPS_KEPT / 9.0


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

    def check(self) -> None:
        """ValueError unless this is a well-formed pattern mask for its shape."""
        shape = tuple(int(v) for v in self.shape)
        if len(shape) != 4 or shape[2:] != (3, 3):
            raise ValueError(f"pattern masks describe (Cout, Cin, 3, 3) weights, got {shape}")
        lib = self.library
        if not isinstance(lib, torch.Tensor) or lib.ndim != 2 or lib.shape[1] != 4 or lib.dtype.is_floating_point:
            raise ValueError("PatternMask.library must be an integer (NP, 4) tensor")
        if lib.numel() and (int(lib.min()) < 0 or int(lib.max()) > 8):
            raise ValueError("PatternMask.library taps must be in [0, 9)")
        if not isinstance(self.keep, torch.Tensor) or self.keep.dtype != torch.bool or \
                tuple(self.keep.shape) != shape[:2]:
            raise ValueError(f"PatternMask.keep must be a bool {shape[:2]} tensor")
        p = self.pattern
        if not isinstance(p, torch.Tensor) or p.dtype.is_floating_point or p.dtype == torch.bool or \
                tuple(p.shape) != shape[:2]:
            raise ValueError(f"PatternMask.pattern must be an integer {shape[:2]} tensor")
        pk = p[self.keep]
        if pk.numel() and (int(pk.min()) < 0 or int(pk.max()) >= lib.shape[0]):
            raise ValueError(f"PatternMask.pattern of a kept kernel is outside the library [0, {lib.shape[0]})")


def pattern_mask(shape, sparsity: float, *, weight: torch.Tensor | None = None, seed: int = 0,
                 library: torch.Tensor = PATTERN_LIBRARY) -> PatternMask:
    """Each 3x3 kernel keeps the 4 taps of one library pattern (the one keeping the most energy,
    or a random one); connectivity sparsity then removes whole kernels (smallest kept energy, or
    at random) until the target is reached. Needs sparsity >= 5/9."""
    s = check_sparsity(sparsity)
    co, ci, kh, kw = _conv_shape(shape)
    if (kh, kw) != (3, 3):
        raise ValueError(f"pattern sparsity needs 3x3 kernels, got {kh}x{kw}")
    if s < MIN_SPARSITY - 1e-9:
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




def pattern_mask_from_dense(mask: torch.Tensor, library: torch.Tensor = PATTERN_LIBRARY) -> PatternMask:
    """The PatternMask of a dense bool mask whose kept kernels each keep exactly one library
    pattern's taps (ValueError otherwise)."""
    co, ci = mask.shape[:2]
    taps = torch.zeros(library.shape[0], 9, dtype=torch.bool)
    taps.scatter_(1, library.long(), True)
    m = mask.reshape(co, ci, 9)
    keep = m.any(-1)
    match = (m[:, :, None, :] == taps[None, None]).all(-1)  # (co, ci, NP)
    if bool((keep & ~match.any(-1)).any()):
        raise ValueError("mask has a 3x3 kernel that keeps taps matching no library pattern")
    reached = 1.0 - float(mask.sum()) / max(mask.numel(), 1)
    return PatternMask(tuple(mask.shape), keep, match.to(torch.int64).argmax(-1), library.to(torch.int32), reached)


def prune_grow(sw, fraction, *, generator: torch.Generator | None = None, scores: torch.Tensor | None = None
               ) -> PatternMask:
    """MEST prune + grow, unit = one 3x3 kernel (co, ci) (see common.prune_grow_units); surviving
    kernels keep their pattern, a grown kernel gets a pattern drawn uniformly from the library
    (``generator``, after the kernels are drawn). Kernel-level tensors only."""
    pm = sw.mask_object()
    co, ci = pm.keep.shape
    kco, _ = sw._kernel_index()
    kept = kco * ci + sw.kci.long()  # stored kernels, storage order
    sc = unit_scores(sw, scores, kept.numel(), 4)
    new, _, grown = prune_grow_units(co * ci, kept, sc, fraction, generator)
    keep = torch.zeros(co * ci, dtype=torch.bool)
    keep[new] = True
    pattern = pm.pattern.clone().reshape(-1)
    if grown.numel():
        pattern[grown] = torch.randint(0, int(pm.library.shape[0]), (grown.numel(),), generator=generator)
    pattern[~keep] = 0
    n = co * ci
    reached = 1.0 - 4.0 * new.numel() / (9.0 * n) if n else 0.0
    return PatternMask(pm.shape, keep.reshape(co, ci), pattern.reshape(co, ci), pm.library, reached)
