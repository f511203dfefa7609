"""The compressed output-gradient format emitted by the fused front-end ("row bitmap").

The pruned gradient is viewed as a 2-D row-major (R, C) matrix:
  conv   dO (N, Cout, Ho, Wo): R = N*Cout (one row per image and output channel), C = Ho*Wo
  linear dO (B, Cout):          R = B, C = Cout
  1-D    g (n,):                R = 1, C = n
Storage:
  bits   uint64 (R, ceil(C/64)): bit c%64 of word c//64 is set iff entry (r, c) is nonzero
  values float32 (nnz,): the nonzeros row by row, ascending column inside a row
  rowptr int64 (R+1,): rowptr[r] = nonzeros before row r
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def rows_cols(shape: tuple[int, ...]) -> tuple[int, int]:
    """The (R, C) view of a gradient of this shape (see the module docstring)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        raise ValueError("gradient must have at least 1 dimension")
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    return shape[0] * shape[1], int(np.prod(shape[2:], dtype=np.int64))


@dataclass
class SparseGrad:
    shape: tuple[int, ...]  # dense gradient shape
    bits: Any  # uint64 (R, wpr)
    values: Any  # float32 (nnz,)
    rowptr: Any  # int64 (R+1,)
    tau: float = float("nan")
    p: float = float("nan")
    seed: int = 0

    @property
    def rows_cols(self) -> tuple[int, int]:
        return rows_cols(self.shape)

    @property
    def nnz(self) -> int:
        return int(len(self.values))

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def density(self) -> float:
        return self.nnz / self.numel if self.numel else 0.0

    @property
    def sparsity(self) -> float:
        return 1.0 - self.density if self.numel else 1.0

    def nbytes(self) -> int:
        return sum(np.asarray(a).nbytes for a in (self.bits, self.values, self.rowptr))

    def mask(self) -> torch.Tensor:
        """bool tensor of the dense shape: True where an entry is stored."""
        R, C = self.rows_cols
        b = np.ascontiguousarray(np.asarray(self.bits, dtype=np.uint64)).view(np.uint8).reshape(R, -(-C // 64) * 8)
        m = np.unpackbits(b, axis=1, bitorder="little")[:, :C].astype(bool)
        return torch.from_numpy(m.reshape(self.shape))

    def to_dense(self) -> torch.Tensor:
        """The pruned gradient as a dense float32 tensor (reference decoding)."""
        m = self.mask()
        out = torch.zeros(self.shape, dtype=torch.float32)
        out[m] = torch.as_tensor(np.asarray(self.values), dtype=torch.float32)
        return out

    def row_sums(self) -> torch.Tensor:
        """Sum of each row's values (float64 accumulation), shape (R,) float32."""
        v = torch.as_tensor(np.asarray(self.values), dtype=torch.float64)
        cs = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(v, 0)])
        rp = torch.as_tensor(np.asarray(self.rowptr))
        return (cs[rp[1:]] - cs[rp[:-1]]).to(torch.float32)


def compress_reference(pruned: torch.Tensor) -> SparseGrad:
    """Row-bitmap encoding of a dense (already pruned) gradient, in readable numpy."""
    shape = tuple(pruned.shape)
    R, C = rows_cols(shape)
    y = pruned.detach().reshape(R, C).numpy()
    m = y != 0
    wpr = -(-C // 64)
    padded = np.zeros((R, wpr * 64), dtype=bool)
    padded[:, :C] = m
    bits = np.packbits(padded, axis=1, bitorder="little").view("<u8").astype(np.uint64).reshape(R, wpr)
    rowptr = np.zeros(R + 1, dtype=np.int64)
    np.cumsum(m.sum(axis=1), out=rowptr[1:])
    return SparseGrad(shape, bits, y[m].astype(np.float32), rowptr)
