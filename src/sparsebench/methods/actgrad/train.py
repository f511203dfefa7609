"""Whole-network training hooks of activation-gradient pruning (Method.layer_refuses /
convert_layer / layer_facts): which layers prune their output gradient, and the density the
pruned gradient reached on the model's real gradients."""

from __future__ import annotations

from torch import nn

from .bench import METHOD_SCHEME
from .nn import PrunedConv2d, PrunedLinear


def layer_refuses(module: nn.Module, scheme: str, rate: float) -> str | None:
    if scheme != METHOD_SCHEME:
        return f"unknown activation-gradient scheme {scheme!r}"
    if type(module) is nn.Conv2d:
        if module.groups != 1 or tuple(module.dilation) != (1, 1):
            return f"groups={module.groups}, dilation={tuple(module.dilation)}: the sparse-dO kernels need groups=1"
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            return "needs numeric zero padding"
        return None
    if type(module) is nn.Linear:
        return None
    return f"{type(module).__name__} is not a conv / linear layer"


def convert_layer(module: nn.Module, rate: float, *, seed: int, index: int, threads: int) -> nn.Module:
    if type(module) is nn.Conv2d:
        return PrunedConv2d.from_conv(module, rate, seed, index, threads)
    return PrunedLinear.from_linear(module, rate, seed, index, threads)


def layer_facts(module: nn.Module) -> dict:
    if not isinstance(module, (PrunedConv2d, PrunedLinear)) or module.last_grad is None:
        return {}
    g = module.last_grad
    numel = 1
    for d in g.shape:
        numel *= int(d)
    return {"grad_density": g.nnz / max(numel, 1), "rate": module.p}
