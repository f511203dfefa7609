"""Weight-sparsity schemes: formats, mask generators and stage kernels (see base.py).

schemes.py says where each scheme lives; SparseConv2d / SparseLinear, the harness and the
methods look schemes up by name (get_scheme) instead of importing each module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .base import ConvGeometry, SparseWeight


@dataclass(frozen=True)
class Scheme:
    name: str
    # (dense weight, target sparsity, by="magnitude"|"random", generator) -> (bool mask, reached)
    make_mask: Callable[..., tuple[torch.Tensor, float]]
    # (dense weight, bool mask) -> SparseWeight holding weight * mask in the scheme's format
    from_dense: Callable[[torch.Tensor, torch.Tensor], SparseWeight]
    # which weight shapes the scheme is defined for (pattern: 3x3 only)
    supports: Callable[[tuple[int, ...]], bool] = lambda shape: True
    doc: str = ""


_SCHEMES: dict[str, Scheme] = {}


def get_scheme(name: str) -> Scheme:
    from .schemes import FACTORIES

    if name not in _SCHEMES:
        if name not in FACTORIES:
            raise KeyError(f"unknown sparsity scheme {name!r}; known: {sorted(FACTORIES)}")
        _SCHEMES[name] = FACTORIES[name]()
    return _SCHEMES[name]


def available_schemes() -> list[str]:
    from .schemes import FACTORIES

    return list(FACTORIES)


__all__ = ["ConvGeometry", "Scheme", "SparseWeight", "available_schemes", "get_scheme"]
