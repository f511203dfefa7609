"""The stored activation of SWAT: TopK(|x|) of a layer input, kept compressed from the forward to
the weight gradient. Row CSR over x viewed as rows of ``cols`` (conv: one row per (image,
channel) plane, cols = H*W; linear: one row per sample, cols = in_features)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SparseActivation:
    shape: tuple[int, ...]
    cols: int
    rowptr: torch.Tensor  # int64 (rows + 1)
    col: torch.Tensor  # int32 (nnz)
    vals: torch.Tensor  # float32 (nnz)
    threshold: float

    @property
    def nnz(self) -> int:
        return int(self.vals.numel())

    @property
    def numel(self) -> int:
        n = 1
        for v in self.shape:
            n *= v
        return n

    @property
    def density(self) -> float:
        return self.nnz / max(self.numel, 1)

    @property
    def nbytes(self) -> int:
        """Bytes held between forward and backward (values + indices + row pointers)."""
        return sum(t.numel() * t.element_size() for t in (self.rowptr, self.col, self.vals))

    @property
    def dense_nbytes(self) -> int:
        return 4 * self.numel

    def to_dense(self) -> torch.Tensor:
        rows = self.rowptr.numel() - 1
        r = torch.repeat_interleave(torch.arange(rows), (self.rowptr[1:] - self.rowptr[:-1]))
        flat = torch.zeros(self.numel, dtype=torch.float32)
        flat[r * self.cols + self.col.to(torch.int64)] = self.vals
        return flat.reshape(self.shape)
