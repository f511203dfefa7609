"""FLOPs of a whole network counted from its definition: every Conv2d and Linear contributes
its multiply-adds (Cout * Cin/groups * kh * kw * Ho * Wo, or in * out) for one sample, the
output sizes read by forward hooks on one forward pass. The paper's "inference cost" is this
count (conv and fully connected layers; BN, ReLU, pooling are a fraction of a percent).
Cross-check: torch.utils.flop_counter.FlopCounterMode on the same forward counts 2 FLOPs per
multiply-add of the same convolutions and matrix products.
"""

from __future__ import annotations

import copy
import functools

import torch
from torch import nn


def _on_meta(model: nn.Module) -> nn.Module:
    """A copy of the model on the meta device: shapes only, no arithmetic (counting is exact and
    instant, whatever the machine's load)."""
    return copy.deepcopy(model).to("meta")


def count_macs(model: nn.Module, input_shape=(3, 32, 32)) -> dict[str, int]:
    """{layer name: multiply-adds for one sample} of every conv / linear layer."""
    model = _on_meta(model)
    out: dict[str, int] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            def hook(mod, inp, y, name=name):
                kh, kw = mod.kernel_size
                out[name] = mod.out_channels * (mod.in_channels // mod.groups) * kh * kw * y.shape[2] * y.shape[3]
            hooks.append(m.register_forward_hook(hook))
        elif isinstance(m, nn.Linear):
            def hook(mod, inp, y, name=name):
                out[name] = mod.in_features * mod.out_features
            hooks.append(m.register_forward_hook(hook))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device="meta"))
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    return out


def flop_counter_total(model: nn.Module, input_shape=(3, 32, 32)) -> int:
    """torch's FlopCounterMode total for one sample's forward (2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = _on_meta(model)
    was = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(torch.zeros(1, *input_shape, device="meta"))
    finally:
        model.train(was)
    return int(fc.get_total_flops())


@functools.lru_cache(maxsize=None)  # deterministic: counted once per process
def reduction(name: str, plan: str = "A", seed: int = 0) -> dict:
    """Counted FLOPs (2 x multiply-adds) of the network and its pruned twin, the fraction removed,
    and the FlopCounterMode cross-check of both."""
    from .models import build
    from .prune import prune_network

    base = build(name, seed)
    pruned = prune_network(name, base, plan)
    b, p = 2 * sum(count_macs(base).values()), 2 * sum(count_macs(pruned).values())
    fb, fp = flop_counter_total(base), flop_counter_total(pruned)
    return {"network": name, "plan": plan if name != "vgg16" else "-", "flops": b, "pruned_flops": p,
            "reduction": 1.0 - p / b, "flop_counter": fb, "flop_counter_pruned": fp,
            "flop_counter_reduction": 1.0 - fp / fb, "cross_check_equal": (b == fb and p == fp),
            "params": sum(x.numel() for x in base.parameters()),
            "pruned_params": sum(x.numel() for x in pruned.parameters())}
