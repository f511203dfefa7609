"""Example of a new weight format, as a contributor would add it: this one folder (copied into
src/sparsebench/formats/) is all it takes. "rows" keeps whole output rows (filters) and stores
them compacted; its stage kernels are torch's dense ops on the kept rows (a real format would
call its own C++ kernels here). tests/test_extending.py loads it and checks it everywhere."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sparsebench.formats.base import ConvGeometry, Format
from sparsebench.formats.common import check_fraction, check_sparsity
from sparsebench.formats.sgd import StoredValuesSGD


@dataclass
class RowMask:
    shape: tuple[int, ...]
    rows: torch.Tensor  # sorted int64 indices of kept output rows
    sparsity: float

    def dense(self) -> torch.Tensor:
        keep = torch.zeros(self.shape[0], dtype=torch.bool)
        keep[self.rows] = True
        return keep.view(-1, *([1] * (len(self.shape) - 1))).expand(self.shape).contiguous()


class RowWeight(StoredValuesSGD):
    scheme = "rows"

    def __init__(self, mask: RowMask, values: torch.Tensor):
        self.shape, self.rows, self.values = tuple(mask.shape), mask.rows, values

    @property
    def _row(self) -> int:
        return int(torch.tensor(self.shape[1:]).prod()) if len(self.shape) > 1 else 1

    @property
    def nnz(self) -> int:
        return self.values.numel()

    @property
    def density(self) -> float:
        return self.nnz / max(int(torch.tensor(self.shape).prod()), 1)

    def compact(self) -> torch.Tensor:
        return self.values.view(len(self.rows), *self.shape[1:])

    def to_dense(self) -> torch.Tensor:
        out = torch.zeros(self.shape)
        out[self.rows] = self.compact()
        return out

    def mask(self) -> torch.Tensor:
        return self.mask_object().dense()

    def mask_object(self) -> RowMask:
        return RowMask(self.shape, self.rows, 1.0 - self.density)

    def positions(self) -> torch.Tensor:
        return (self.rows[:, None] * self._row + torch.arange(self._row)[None, :]).reshape(-1)

    def tensor_bytes(self) -> int:
        return 4 * self.values.numel() + 8 * self.rows.numel()

    def _scatter(self, yc: torch.Tensor) -> torch.Tensor:
        y = yc.new_zeros(yc.shape[0], self.shape[0], *yc.shape[2:])
        y[:, self.rows] = yc
        return y

    def forward(self, x, geometry=None, **kw):
        g = geometry or ConvGeometry()
        w = self.compact()
        yc = F.conv2d(x, w, stride=g.stride, padding=g.padding) if len(self.shape) == 4 else F.linear(x, w)
        return self._scatter(yc)

    def backward_data(self, dy, x_shape, geometry=None, **kw):
        g = geometry or ConvGeometry()
        dyc = dy[:, self.rows].contiguous()
        if len(self.shape) == 4:
            return torch.nn.grad.conv2d_input(tuple(x_shape), self.compact(), dyc, stride=g.stride, padding=g.padding)
        return dyc @ self.compact()

    def weight_grad_sampled(self, x, dy, geometry=None, **kw):
        g = geometry or ConvGeometry()
        dyc = dy[:, self.rows].contiguous()
        if len(self.shape) == 4:
            shape = (len(self.rows), *self.shape[1:])
            return torch.nn.grad.conv2d_weight(x, shape, dyc, stride=g.stride, padding=g.padding).reshape(-1)
        return (dyc.t() @ x).reshape(-1)

    def weight_grad_dense(self, x, dy, geometry=None, **kw):
        g = geometry or ConvGeometry()
        if len(self.shape) == 4:
            return torch.nn.grad.conv2d_weight(x, self.shape, dy, stride=g.stride, padding=g.padding)
        return dy.t() @ x


def make_mask(weight, sparsity, by="magnitude", generator=None) -> RowMask:
    s = check_sparsity(sparsity)
    shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else tuple(weight)
    n = shape[0]
    keep = n - int(round(s * n))
    if by == "magnitude":
        order = torch.argsort(weight.detach().reshape(n, -1).pow(2).sum(1), descending=True, stable=True)
    else:
        order = torch.randperm(n, generator=generator)
    rows = torch.sort(order[:keep]).values
    return RowMask(shape, rows, 1.0 - keep / max(n, 1))


def from_mask(mask: RowMask, weight=None) -> RowWeight:
    per = int(torch.tensor(mask.shape[1:]).prod())
    vals = weight.detach()[mask.rows].reshape(-1).clone() if weight is not None else torch.zeros(len(mask.rows) * per)
    return RowWeight(mask, vals.float().contiguous())


def mask_from_dense(mask: torch.Tensor, like=None) -> RowMask:
    per_row = mask.reshape(mask.shape[0], -1)
    if not bool((per_row.all(1) | ~per_row.any(1)).all()):
        raise ValueError("mask is not a rows mask (a row is partly kept)")
    rows = torch.nonzero(per_row.any(1)).flatten()
    return RowMask(tuple(mask.shape), rows, 1.0 - len(rows) / max(mask.shape[0], 1))


def from_dense_mask(weight, mask) -> RowWeight:
    return from_mask(mask_from_dense(mask), weight)


def prune_grow(sw: RowWeight, fraction, *, generator=None, scores=None) -> RowMask:
    f = check_fraction(fraction)
    n = sw.shape[0]
    k = int(round(f * len(sw.rows)))
    free = torch.tensor(sorted(set(range(n)) - set(sw.rows.tolist())), dtype=torch.int64)
    if k > len(free):
        raise ValueError(f"fraction {fraction} grows {k} rows, only {len(free)} are free")
    energy = sw.compact().reshape(len(sw.rows), -1).pow(2).sum(1)
    survivors = sw.rows[torch.sort(torch.argsort(energy, descending=True, stable=True)[:len(sw.rows) - k]).values]
    grown = free[torch.randperm(len(free), generator=generator)[:k]]
    return RowMask(sw.shape, torch.sort(torch.cat([survivors, grown])).values, sw.mask_object().sparsity)


FORMAT = Format("rows", doc="whole output rows kept, compacted (example format)", make_mask=make_mask,
                from_mask=from_mask, from_dense_mask=from_dense_mask, prune_grow=prune_grow,
                mask_from_dense=mask_from_dense, rank=50)
