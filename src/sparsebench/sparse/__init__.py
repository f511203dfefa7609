"""Weight-sparsity schemes: formats, mask generators and stage kernels (see base.py).

Each scheme module registers a `Scheme` here, so SparseConv2d / SparseLinear, the harness and
the methods look schemes up by name instead of importing each module.
"""

from __future__ import annotations

import importlib
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
_MODULES = {  # scheme name -> module that registers it
    "unstructured": "sparsebench.sparse.csr",
    "block": "sparsebench.sparse.block",
    "pattern": "sparsebench.sparse.pattern",
    "filter": "sparsebench.sparse.filter",
}


def register_scheme(scheme: Scheme) -> Scheme:
    if scheme.name in _SCHEMES:
        raise ValueError(f"scheme {scheme.name!r} registered twice")
    _SCHEMES[scheme.name] = scheme
    return scheme


def get_scheme(name: str) -> Scheme:
    if name not in _SCHEMES:
        module = _MODULES.get(name)
        if module is None:
            raise KeyError(f"unknown sparsity scheme {name!r}; known: {sorted(_MODULES)}")
        importlib.import_module(module)
    return _SCHEMES[name]


def available_schemes() -> list[str]:
    out = []
    for name in _MODULES:
        try:
            get_scheme(name)
            out.append(name)
        except ImportError:
            pass
    return out


__all__ = ["ConvGeometry", "Scheme", "SparseWeight", "available_schemes", "get_scheme", "register_scheme"]
