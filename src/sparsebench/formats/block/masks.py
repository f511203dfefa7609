"""Block masks on the tap-major BSR grid (see format.py for the block shape)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..common import _choose, _conv_shape, check_sparsity, prune_grow_units, unit_scores

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

    def check(self) -> None:
        """ValueError unless this is a well-formed block mask for its shape."""
        co, ci, kh, kw = _conv_shape(self.shape)
        bo, bi = (int(v) for v in self.block)
        if bo not in (1, 2, 4, 8) or bi not in (1, 2, 4, 8):
            raise ValueError(f"block sizes must be 1, 2, 4 or 8, got {self.block}")
        grid = (-(-co // bo), kh * kw * -(-ci // bi))
        if not isinstance(self.keep, torch.Tensor) or self.keep.dtype != torch.bool:
            got = getattr(self.keep, "dtype", type(self.keep))
            raise ValueError(f"BlockMask.keep must be a bool tensor, got {got}")
        if tuple(self.keep.shape) != grid:
            raise ValueError(f"BlockMask.keep must have the grid shape {grid}, got {tuple(self.keep.shape)}")


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


def block_sizes(mask_shape, block) -> torch.Tensor:
    """Real weights in each block of the keep grid (nbr, T * ncb) (edge blocks are partial)."""
    co, ci, kh, kw = _conv_shape(mask_shape)
    bo, bi = block
    return _block_sizes(co, ci, kh * kw, bo, bi).reshape(-(-co // bo), -1)


def _sparsity_of(shape, block, keep: torch.Tensor) -> float:
    co, ci, kh, kw = _conv_shape(shape)
    total = co * ci * kh * kw
    return 1.0 - int(block_sizes(shape, block)[keep].sum()) / total if total else 0.0


def block_mask_from_dense(mask: torch.Tensor, like=None, *, block=(4, 4)) -> BlockMask:
    """The BlockMask of a dense bool mask whose blocks are each all kept or all pruned (ValueError
    otherwise), blocks of ``like.block`` when given. Bool / integer ops only (no float copy)."""
    if like is not None:
        block = like.block
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be a bool torch.Tensor")
    co, ci, kh, kw = _conv_shape(mask.shape)
    bo, bi = (int(v) for v in block)
    nbr, ncb, t = -(-co // bo), -(-ci // bi), kh * kw
    padded = torch.zeros(nbr * bo, t, ncb * bi, dtype=torch.bool)
    padded[:co, :, :ci] = mask.reshape(co, ci, t).permute(0, 2, 1)
    cnt = padded.reshape(nbr, bo, t, ncb, bi).sum(dim=(1, 4), dtype=torch.int64).reshape(nbr, t * ncb)
    sizes = block_sizes(mask.shape, (bo, bi))
    if not bool(((cnt == 0) | (cnt == sizes)).all()):
        raise ValueError(f"mask is not aligned to {bo}x{bi} blocks (a block is partly kept)")
    keep = cnt > 0
    return BlockMask(tuple(mask.shape), (bo, bi), keep, _sparsity_of(mask.shape, (bo, bi), keep))


def prune_grow(sw, fraction, *, generator: torch.Generator | None = None, scores: torch.Tensor | None = None
               ) -> BlockMask:
    """MEST prune + grow, unit = one block of the BSR keep grid (see common.prune_grow_units).
    Edge blocks hold fewer real weights, so the kept element count can move by a partial block
    when an edge block is swapped for a full one; the kept block count is unchanged."""
    bm = sw.mask_object()
    bo, bi = bm.block
    nbr, ncols = bm.keep.shape
    r = torch.repeat_interleave(torch.arange(len(sw.row_ptr) - 1), torch.diff(sw.row_ptr.long()))
    kept = r * ncols + sw.col.long()  # stored blocks, storage order
    sc = unit_scores(sw, scores, kept.numel(), bo * bi)
    new, _, _ = prune_grow_units(nbr * ncols, kept, sc, fraction, generator)
    keep = torch.zeros(nbr * ncols, dtype=torch.bool)
    keep[new] = True
    keep = keep.reshape(nbr, ncols)
    return BlockMask(tuple(sw.shape), (bo, bi), keep, _sparsity_of(sw.shape, (bo, bi), keep))
