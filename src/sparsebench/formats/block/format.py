"""Block-sparse weights (scheme "block"): BSR over the tap-major weight, direct convolution.

Block shape. A block is bo output channels x bi input channels at ONE kernel tap (kh, kw); the
weight (Cout, Cin, kh, kw) is viewed tap-major as the matrix (Cout, kh*kw * ceil(Cin/bi)*bi) and
stored as BSR (row_ptr over ceil(Cout/bo) block rows, col = tap * ncb + ci_block, values
[block][i][j] with the bo output-channel weights of one input channel contiguous). A linear weight
(out, in) is the 1x1 case. Default 4x4, and why: the kernels vectorize along output pixels
(N * Wo per output row in the phase-plane layout, see kernels/sparse/bsr.hpp), not along
channels, so the block dimensions set the register tile's reuse in each stage:
  forward        tile bo rows x V pixel vectors: per stored input row V loads + bo broadcasts
                 for bo*V FMAs (4x4, AVX-512: V=5 -> 9 loads per 20 FMAs);
  backward-data  tile bi rows x V vectors, the transposed block: same ratio with bo <-> bi;
  weight-grad    bo x bi vector accumulators: bo + bi loads per bo*bi FMAs (8 per 16).
A tall 16x1 block (one AVX-512 vector of output channels) would be ideal for an NHWC forward but
leaves backward-data with one load per FMA in this layout; 4x4 keeps all three stages at <= 0.5
loads per FMA on every ISA (AVX-512, AVX2 and NEON read the same format; only the tile's V
changes), with the granularity of 16 weights. Supported shapes: bo, bi in {1, 2, 4, 8}; MEST-style
row / column pruning inside fixed blocks is a mask-generator option (structured_masks.block_mask).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ... import _kernels
from ..base import ConvGeometry
from ..common import _conv_shape, dense_weight_grad
from ..sgd import StoredValuesSGD
from .masks import BlockMask, block_mask

DEFAULT_BLOCK = (4, 4)


def _grid(shape, block):
    co, ci, kh, kw = _conv_shape(shape)
    bo, bi = block
    return co, ci, kh * kw, -(-co // bo), -(-ci // bi)


def _blocked(weight: torch.Tensor, block) -> torch.Tensor:
    """Dense weight -> (nbr, T * ncb, bi, bo) tensor of every block (zero padded)."""
    co, ci, t, nbr, ncb = _grid(weight.shape, block)
    bo, bi = block
    w = weight.detach().reshape(co, ci, t).permute(0, 2, 1)  # (co, t, ci)
    w = F.pad(w, (0, ncb * bi - ci, 0, 0, 0, nbr * bo - co))
    return w.reshape(nbr, bo, t, ncb, bi).permute(0, 2, 3, 4, 1).reshape(nbr, t * ncb, bi, bo)


class BlockSparseWeight(StoredValuesSGD):
    scheme = "block"

    def __init__(self, shape, block, row_ptr: torch.Tensor, col: torch.Tensor, values: torch.Tensor):
        self.shape = tuple(int(v) for v in shape)
        self.block = (int(block[0]), int(block[1]))
        self.row_ptr = row_ptr.to(torch.int32).contiguous()
        self.col = col.to(torch.int32).contiguous()
        self.values = values.to(torch.float32).contiguous()
        bo, bi = self.block
        if self.values.numel() != self.col.numel() * bo * bi:
            raise ValueError("values must hold bo*bi floats per stored block")

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def from_block_mask(cls, bm: BlockMask, weight: torch.Tensor | None = None, *, init_std: float = 0.0,
                        seed: int = 0) -> "BlockSparseWeight":
        """Build from a block-level mask; values from ``weight`` (dense) or, with no weight,
        drawn N(0, init_std^2) directly into the compressed format (no dense intermediate)."""
        co, ci, t, nbr, ncb = _grid(bm.shape, bm.block)
        bo, bi = bm.block
        keep = bm.keep.reshape(nbr, t * ncb)
        counts = keep.sum(1)
        row_ptr = torch.zeros(nbr + 1, dtype=torch.int64)
        row_ptr[1:] = torch.cumsum(counts, 0)
        r, c = torch.nonzero(keep, as_tuple=True)
        if weight is not None:
            vals = _blocked(weight, bm.block)[r, c]  # (nb, bi, bo)
        elif init_std == 0.0:
            vals = torch.zeros(len(c), bi, bo, dtype=torch.float32)  # values-sized only
        else:
            g = torch.Generator().manual_seed(int(seed))
            vals = torch.randn(len(c), bi, bo, generator=g) * init_std
            vals = vals * cls._real(bm.shape, bm.block, r, c).to(vals.dtype)
        return cls(bm.shape, bm.block, row_ptr, c, vals.reshape(-1))

    @staticmethod
    def _real(shape, block, r, c) -> torch.Tensor:
        """(nb, bi, bo) bool: which entries of the given blocks are real (not edge padding)."""
        co, ci, t, nbr, ncb = _grid(shape, block)
        bo, bi = block
        rows = (r[:, None] * bo + torch.arange(bo)[None, :]) < co  # (nb, bo)
        cols = ((c % ncb)[:, None] * bi + torch.arange(bi)[None, :]) < ci  # (nb, bi)
        return cols[:, :, None] & rows[:, None, :]

    @classmethod
    def from_dense(cls, weight: torch.Tensor, mask: torch.Tensor | None = None, *,
                   block=DEFAULT_BLOCK) -> "BlockSparseWeight":
        """Blocks of weight where mask (default: weight != 0) is set; the mask must be block
        aligned (each block all kept or all pruned)."""
        if weight.dtype != torch.float32:
            raise TypeError(f"weight must be float32, got {weight.dtype}")
        m = (weight != 0) if mask is None else mask
        if m.shape != weight.shape:
            raise ValueError(f"mask shape {tuple(m.shape)} != weight shape {tuple(weight.shape)}")
        blocked_m = _blocked(m.to(torch.float32), block)
        co, ci, t, nbr, ncb = _grid(weight.shape, block)
        nreal = _blocked(torch.ones(weight.shape), block).sum((2, 3))
        cnt = blocked_m.sum((2, 3))
        if mask is not None and not torch.all((cnt == 0) | (cnt == nreal)):
            raise ValueError(f"mask is not aligned to {block[0]}x{block[1]} blocks (a block is partly kept)")
        keep = cnt > 0
        bm = BlockMask(tuple(weight.shape), tuple(block), keep, 0.0)
        w = weight * m.to(weight.dtype) if mask is not None else weight
        return cls.from_block_mask(bm, w)

    @classmethod
    def random(cls, shape, sparsity: float, *, block=DEFAULT_BLOCK, seed: int = 0, init_std: float | None = None,
               **mask_kw) -> "BlockSparseWeight":
        """Random block mask at the target sparsity and random values, built in the format directly."""
        bm = block_mask(shape, sparsity, block=block, seed=seed, **mask_kw)
        if init_std is None:
            co, ci, kh, kw = _conv_shape(shape)
            init_std = (2.0 / max(ci * kh * kw, 1)) ** 0.5
        return cls.from_block_mask(bm, None, init_std=init_std, seed=seed + 7)

    # --- protocol -----------------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        r = torch.repeat_interleave(torch.arange(len(self.row_ptr) - 1), torch.diff(self.row_ptr.long()))
        return int(self._real(self.shape, self.block, r, self.col.long()).sum())

    def _expand(self, vals: torch.Tensor) -> torch.Tensor:
        co, ci, t, nbr, ncb = _grid(self.shape, self.block)
        bo, bi = self.block
        full = torch.zeros(nbr, t * ncb, bi, bo, dtype=vals.dtype)
        r = torch.repeat_interleave(torch.arange(nbr), torch.diff(self.row_ptr.long()))
        full[r, self.col.long()] = vals.reshape(-1, bi, bo)
        w = full.reshape(nbr, t, ncb, bi, bo).permute(0, 4, 1, 2, 3).reshape(nbr * bo, t, ncb * bi)
        w = w[:co, :, :ci].permute(0, 2, 1).reshape(self.shape)
        return w.contiguous()

    def to_dense(self) -> torch.Tensor:
        return self._expand(self.values)

    def mask(self) -> torch.Tensor:
        r = torch.repeat_interleave(torch.arange(len(self.row_ptr) - 1), torch.diff(self.row_ptr.long()))
        return self._expand(self._real(self.shape, self.block, r, self.col.long()))

    def tensor_bytes(self) -> int:
        return 4 * (self.values.numel() + self.row_ptr.numel() + self.col.numel())

    def _block_rows(self) -> torch.Tensor:
        return torch.repeat_interleave(torch.arange(len(self.row_ptr) - 1), torch.diff(self.row_ptr.long()))

    def positions(self) -> torch.Tensor:
        """int64 like values: flat row-major dense index of each stored entry ([block][i][j]:
        input channel i, output channel j of the block), -1 for the edge padding of partial blocks."""
        co, ci, t, nbr, ncb = _grid(self.shape, self.block)
        bo, bi = self.block
        r, c = self._block_rows(), self.col.long()
        rows = r[:, None] * bo + torch.arange(bo)[None, :]  # (nb, bo) output channel
        cols = (c % ncb)[:, None] * bi + torch.arange(bi)[None, :]  # (nb, bi) input channel
        tap = (c // ncb)[:, None, None]
        pos = (rows[:, None, :] * ci + cols[:, :, None]) * t + tap  # (nb, bi, bo)
        real = (rows < co)[:, None, :] & (cols < ci)[:, :, None]
        return torch.where(real, pos, torch.full((), -1, dtype=torch.int64)).reshape(-1)

    def mask_object(self) -> BlockMask:
        co, ci, t, nbr, ncb = _grid(self.shape, self.block)
        keep = torch.zeros(nbr, t * ncb, dtype=torch.bool)
        keep[self._block_rows(), self.col.long()] = True
        return BlockMask(self.shape, self.block, keep, 1.0 - self.density)

    def values_from_dense(self, dense: torch.Tensor) -> torch.Tensor:
        """Entries of a dense tensor (weight shape) at the stored positions, in storage order
        (edge padding of partial blocks reads as 0)."""
        r = torch.repeat_interleave(torch.arange(len(self.row_ptr) - 1), torch.diff(self.row_ptr.long()))
        return _blocked(dense, self.block)[r, self.col.long()].reshape(-1).contiguous()

    def _args(self):
        return self.row_ptr, self.col, list(self.shape), list(self.block)

    def _wshape(self):
        return list(self.shape)

    @staticmethod
    def _geom(geometry):
        g = geometry or ConvGeometry()
        return g.stride, g.padding

    def forward(self, x: torch.Tensor, geometry: ConvGeometry | None = None, **kw: Any) -> torch.Tensor:
        s, p = self._geom(geometry)
        y = _kernels.bsr_conv_forward(x, self.values, self.row_ptr, self.col, self._wshape(), list(self.block),
                                      s, p, **kw)
        return torch.from_numpy(y)

    def backward_data(self, dy: torch.Tensor, x_shape, geometry: ConvGeometry | None = None,
                      **kw: Any) -> torch.Tensor:
        s, p = self._geom(geometry)
        dx = _kernels.bsr_conv_backward_data(dy, self.values, self.row_ptr, self.col, self._wshape(),
                                             list(self.block), list(x_shape), s, p, **kw)
        return torch.from_numpy(dx)

    def weight_grad_sampled(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                            **kw: Any) -> torch.Tensor:
        s, p = self._geom(geometry)
        g = _kernels.bsr_conv_weight_grad(x, dy, self.row_ptr, self.col, self._wshape(), list(self.block), s, p,
                                          **kw)
        return torch.from_numpy(g)

    def weight_grad_dense(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                          **kw: Any) -> torch.Tensor:
        """The full dense dW (for growth criteria): torch's dense kernel, nothing to skip."""
        return dense_weight_grad(x, dy, self.shape, geometry)
