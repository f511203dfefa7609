"""The update stage shared by every scheme: each format keeps its trainable weights in one
contiguous ``values`` array, so one in-place SGD kernel serves them all."""

from __future__ import annotations

from typing import Any

import torch

from .. import _kernels


def sgd_update(values: Any, grad: Any, momentum_buf: Any, *, lr: float, momentum: float = 0.0,
               weight_decay: float = 0.0, isa: str | None = None, threads: int = 0) -> None:
    """torch.optim.SGD (dampening 0, no Nesterov) in place on values and momentum_buf:
    d = g + wd*w; buf = momentum*buf + d; w -= lr*buf."""
    _kernels.sparse_sgd_update(values, grad, momentum_buf, lr=float(lr), momentum=float(momentum),
                               weight_decay=float(weight_decay), isa=isa, threads=threads)


def sgd_update_reference(values: torch.Tensor, grad: torch.Tensor, momentum_buf: torch.Tensor, lr: float,
                         momentum: float, weight_decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The same step, readable, out of place: returns (new values, new momentum buffer)."""
    d = grad + weight_decay * values
    buf = momentum * momentum_buf + d
    return values - lr * buf, buf


class StoredValuesSGD:
    """Mixin for a format that keeps its trainable weights in one ``values`` array: the
    SparseWeight.sgd_update stage on them, and the density of ``nnz`` over the dense shape."""

    values: torch.Tensor
    shape: tuple[int, ...]

    @property
    def density(self) -> float:
        n = 1
        for v in self.shape:
            n *= v
        return self.nnz / n if n else 0.0

    def sgd_update(self, grad_values: torch.Tensor, momentum_buf: torch.Tensor, *, lr: float, momentum: float,
                   weight_decay: float, **kw: Any) -> None:
        sgd_update(self.values, grad_values, momentum_buf, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)
