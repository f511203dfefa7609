"""Pattern-sparse 3x3 weights (scheme "pattern"): PatDNN / MEST pattern + connectivity sparsity.

Every kept 3x3 kernel (co, ci) keeps exactly the 4 taps of one pattern from a small library
(default: structured_masks.PATTERN_LIBRARY, 8 patterns that keep the centre tap); connectivity
sparsity removes whole kernels, so sparsity = 1 - 4 * kept_kernels / (9 * Cout * Cin) >= 5/9.
Storage groups kernels by (output channel, pattern): gptr (Cout * NP + 1), kci (input channel of
each kernel, ascending inside a group), values (4 per kernel, in the pattern's tap order). The
direct-convolution kernels (kernels/sparse/pattern.hpp) walk one group at a time with the 4 tap
offsets as loop invariants: no branch in the inner loop, one index per 4 taps x V pixel vectors.
"""

from __future__ import annotations

from typing import Any

import torch

from ... import _kernels
from ..base import ConvGeometry
from ..common import dense_weight_grad
from ..sgd import StoredValuesSGD
from .masks import PATTERN_LIBRARY, PatternMask, pattern_mask


class PatternSparseWeight(StoredValuesSGD):
    scheme = "pattern"

    def __init__(self, shape, gptr: torch.Tensor, kci: torch.Tensor, values: torch.Tensor,
                 library: torch.Tensor = PATTERN_LIBRARY):
        self.shape = tuple(int(v) for v in shape)
        if len(self.shape) != 4 or self.shape[2:] != (3, 3):
            raise ValueError(f"pattern sparsity needs a (Cout, Cin, 3, 3) weight, got {self.shape}")
        self.library = library.to(torch.int32).contiguous()
        self.gptr = gptr.to(torch.int32).contiguous()
        self.kci = kci.to(torch.int32).contiguous()
        self.values = values.to(torch.float32).contiguous()
        if self.values.numel() != 4 * self.kci.numel():
            raise ValueError("values must hold 4 floats per kept kernel")

    @property
    def npat(self) -> int:
        return int(self.library.shape[0])

    def _kernel_index(self):
        """(co, pattern) of every stored kernel, in storage order."""
        co_p = torch.repeat_interleave(torch.arange(self.shape[0] * self.npat), torch.diff(self.gptr.long()))
        return co_p // self.npat, co_p % self.npat

    @classmethod
    def from_pattern_mask(cls, pm: PatternMask, weight: torch.Tensor | None = None, *, init_std: float = 0.0,
                          seed: int = 0) -> "PatternSparseWeight":
        co, ci = pm.keep.shape
        npat = pm.library.shape[0]
        key = torch.where(pm.keep, torch.arange(co)[:, None] * npat + pm.pattern, -1)
        counts = torch.bincount(key[pm.keep], minlength=co * npat)
        gptr = torch.zeros(co * npat + 1, dtype=torch.int64)
        gptr[1:] = torch.cumsum(counts, 0)
        # Kept kernels sorted by (co, pattern, ci): a stable sort of row-major order by key.
        r, c = torch.nonzero(pm.keep, as_tuple=True)
        order = torch.argsort(key[r, c], stable=True)
        r, c = r[order], c[order]
        taps = pm.library.long()[pm.pattern[r, c]]  # (nk, 4)
        if weight is not None:
            vals = weight.detach().reshape(co, ci, 9)[r[:, None], c[:, None], taps]
        elif init_std == 0.0:
            vals = torch.zeros(len(r), 4, dtype=torch.float32)  # values-sized only
        else:
            g = torch.Generator().manual_seed(int(seed))
            vals = torch.randn(len(r), 4, generator=g) * init_std
        return cls(pm.shape, gptr, c, vals.reshape(-1), pm.library)

    @classmethod
    def from_dense(cls, weight: torch.Tensor, *, library: torch.Tensor = PATTERN_LIBRARY) -> "PatternSparseWeight":
        """Kernels of weight whose nonzeros fit exactly one library pattern (all-zero kernels are
        dropped); raises ValueError for a kernel that matches no pattern."""
        if weight.dtype != torch.float32:
            raise TypeError(f"weight must be float32, got {weight.dtype}")
        co, ci = weight.shape[:2]
        nz = (weight != 0).reshape(co, ci, 9)
        lib = library.long()
        taps = torch.zeros(lib.shape[0], 9, dtype=torch.bool)
        taps.scatter_(1, lib, True)
        inside = (nz[:, :, None, :] & ~taps[None, None]).sum(-1) == 0  # (co, ci, NP)
        keep = nz.any(-1)
        if not torch.all(inside.any(-1) | ~keep):
            raise ValueError("a kernel's nonzeros fit no pattern of the library")
        pat = torch.argmax(inside.to(torch.int8), dim=-1)
        pm = PatternMask(tuple(weight.shape), keep, pat, library.to(torch.int32), 0.0)
        return cls.from_pattern_mask(pm, weight)

    @classmethod
    def random(cls, shape, sparsity: float, *, seed: int = 0, init_std: float | None = None,
               library: torch.Tensor = PATTERN_LIBRARY) -> "PatternSparseWeight":
        pm = pattern_mask(shape, sparsity, seed=seed, library=library)
        if init_std is None:
            init_std = (2.0 / max(shape[1] * 9, 1)) ** 0.5
        return cls.from_pattern_mask(pm, None, init_std=init_std, seed=seed + 7)

    @property
    def nnz(self) -> int:
        return int(self.values.numel())

    def _expand(self, vals: torch.Tensor) -> torch.Tensor:
        co, ci = self.shape[:2]
        out = torch.zeros(co, ci, 9, dtype=vals.dtype)
        kco, kp = self._kernel_index()
        taps = self.library.long()[kp]
        out[kco[:, None], self.kci.long()[:, None], taps] = vals.reshape(-1, 4)
        return out.reshape(self.shape)

    def to_dense(self) -> torch.Tensor:
        return self._expand(self.values)

    def mask(self) -> torch.Tensor:
        return self._expand(torch.ones(self.values.numel(), dtype=torch.bool))

    def positions(self) -> torch.Tensor:
        """int64 like values: flat row-major dense index of each stored tap (storage order)."""
        kco, kp = self._kernel_index()
        taps = self.library.long()[kp]  # (nk, 4)
        return ((kco * self.shape[1] + self.kci.long())[:, None] * 9 + taps).reshape(-1)

    def mask_object(self) -> PatternMask:
        co, ci = self.shape[:2]
        kco, kp = self._kernel_index()
        keep = torch.zeros(co, ci, dtype=torch.bool)
        pattern = torch.zeros(co, ci, dtype=torch.int64)
        keep[kco, self.kci.long()] = True
        pattern[kco, self.kci.long()] = kp
        return PatternMask(self.shape, keep, pattern, self.library, 1.0 - self.density)

    def values_from_dense(self, dense: torch.Tensor) -> torch.Tensor:
        """Entries of a dense tensor (weight shape) at the stored taps, in storage order."""
        kco, kp = self._kernel_index()
        taps = self.library.long()[kp]
        co, ci = self.shape[:2]
        return dense.reshape(co, ci, 9)[kco[:, None], self.kci.long()[:, None], taps].reshape(-1).contiguous()

    def tensor_bytes(self) -> int:
        return 4 * (self.values.numel() + self.gptr.numel() + self.kci.numel() + self.library.numel())

    @staticmethod
    def _geom(geometry):
        g = geometry or ConvGeometry()
        return g.stride, g.padding

    def forward(self, x: torch.Tensor, geometry: ConvGeometry | None = None, **kw: Any) -> torch.Tensor:
        s, p = self._geom(geometry)
        return torch.from_numpy(_kernels.pattern_conv_forward(x, self.values, self.gptr, self.kci, self.library,
                                                              list(self.shape), s, p, **kw))

    def backward_data(self, dy: torch.Tensor, x_shape, geometry: ConvGeometry | None = None,
                      **kw: Any) -> torch.Tensor:
        s, p = self._geom(geometry)
        return torch.from_numpy(_kernels.pattern_conv_backward_data(dy, self.values, self.gptr, self.kci,
                                                                    self.library, list(self.shape), list(x_shape),
                                                                    s, p, **kw))

    def weight_grad_sampled(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                            **kw: Any) -> torch.Tensor:
        s, p = self._geom(geometry)
        return torch.from_numpy(_kernels.pattern_conv_weight_grad(x, dy, self.gptr, self.kci, self.library,
                                                                  list(self.shape), s, p, **kw))

    def weight_grad_dense(self, x: torch.Tensor, dy: torch.Tensor, geometry: ConvGeometry | None = None,
                          **kw: Any) -> torch.Tensor:
        return dense_weight_grad(x, dy, self.shape, geometry)
