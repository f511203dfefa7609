"""Convert a model through a method's training hooks, layer by layer, keeping what it cannot hold
dense and saying why."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class LayerInfo:
    name: str
    kind: str  # "conv" | "linear"
    weight_shape: tuple[int, ...]
    geometry: str  # e.g. "3x3/s1" or "linear"
    converted: bool
    reason: str = ""  # why it stays dense

    def to_dict(self) -> dict:
        return asdict(self)


def leaf_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's nn.Conv2d / nn.Linear layers in definition order."""
    return [(n, m) for n, m in model.named_modules() if type(m) in (nn.Conv2d, nn.Linear)]


def _geometry(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        g = f"{m.kernel_size[0]}x{m.kernel_size[1]}/s{m.stride[0]}"
        return g + (f"/g{m.groups}" if m.groups != 1 else "")
    return "linear"


def _set(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, new)


def resolve_method(name: str, scheme: str | None = None):
    """(Method, scheme) for `--method NAME [--scheme S]`: NAME is a method or one of the schemes a
    method trains on (Method.train_schemes), e.g. a weight format."""
    from ..methods import all_methods

    methods = all_methods()
    if name in methods:
        m = methods[name]
        schemes = m.train_schemes()
        if not schemes:
            raise ValueError(f"method {name!r} has no whole-network training hook")
        if scheme is not None and scheme not in schemes:
            raise ValueError(f"method {name!r} trains on {', '.join(schemes)}, not {scheme!r}")
        return m, scheme or schemes[0]
    owners = [m for m in methods.values() if name in m.train_schemes()]
    if not owners:
        known = sorted({*methods, *(s for m in methods.values() for s in m.train_schemes())})
        raise ValueError(f"unknown method or scheme {name!r}; known: {', '.join(known)}")
    return owners[0], name


def convert(model: nn.Module, method, scheme: str, sparsity: float, *, seed: int = 0,
            threads: int = 1) -> list[LayerInfo]:
    """Replace every layer ``method`` can train on ``scheme`` by its twin, in place; the rest stay
    dense with the reason (first / last layer policy, or what the scheme cannot hold)."""
    leaves = leaf_layers(model)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i, (name, mod) in enumerate(leaves):
        if i == 0 and method.dense_first:
            why = f"first layer stays dense ({method.name} policy)"
        elif i == len(leaves) - 1 and method.dense_last:
            why = f"last layer stays dense ({method.name} policy)"
        else:
            why = method.layer_refuses(mod, scheme, sparsity)
        info = LayerInfo(name, "conv" if isinstance(mod, nn.Conv2d) else "linear", tuple(mod.weight.shape),
                         _geometry(mod), why is None, why or "")
        if why is None:
            _set(model, name, method.convert_layer(mod, scheme, sparsity, seed=seed, index=i, threads=threads,
                                                   generator=gen))
        out.append(info)
    return out
