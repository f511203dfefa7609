"""L1-norm filter pruning (Li et al., ICLR 2017), one shot: rank a layer's filters by
sum |W[n, :, :, :]|, keep the top int(C * (1 - p)), and remove the other filters together with
their BN channels and the matching input channels of the next layer. The pruned network is the
same definition at the smaller widths, with the kept weights copied in.

Plans (the authors' public re-implementation, methods.md):
- VGG-16: the pruned widths (conv1 and conv8-13 halved).
- ResNet-56 A: p = 0.1 in every stage, layers 16, 20, 38, 54 skipped; B: p = 0.6 / 0.3 / 0.1,
  skipping 16, 18, 20, 34, 38, 54. ResNet-110 A: p = 0.5 / 0 / 0, skipping 36; B: p = 0.5 / 0.4 /
  0.3, skipping 36, 38, 74. Layer ids count every conv from 1 (the stem), so a block's first
  conv has an even id; only those are pruned.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import VGG, CifarResNet

VGG16_PRUNED = (32, 64, "M", 128, 128, "M", 256, 256, 256, "M", 256, 256, 256, "M", 256, 256, 256)
RESNET_PLANS = {
    ("resnet56", "A"): ((0.1, 0.1, 0.1), (16, 20, 38, 54)),
    ("resnet56", "B"): ((0.6, 0.3, 0.1), (16, 18, 20, 34, 38, 54)),
    ("resnet110", "A"): ((0.5, 0.0, 0.0), (36,)),
    ("resnet110", "B"): ((0.5, 0.4, 0.3), (36, 38, 74)),
}


def filter_l1(w: torch.Tensor) -> torch.Tensor:
    """sum |W[n]| per filter."""
    return w.detach().abs().reshape(w.shape[0], -1).sum(dim=1)


def keep_top(w: torch.Tensor, keep: int, what: str = "layer") -> torch.Tensor:
    """Indices (increasing) of the ``keep`` filters of largest L1 norm."""
    c = w.shape[0]
    if keep < 1:
        raise ValueError(f"plan removes every filter of {what} ({c} filters, keeps {keep})")
    if keep > c:
        raise ValueError(f"plan keeps {keep} filters of {what}, which has only {c}")
    order = torch.argsort(filter_l1(w), descending=True, stable=True)
    return torch.sort(order[:keep]).values


def n_keep(c: int, p: float, what: str) -> int:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"pruning ratio for {what} must be in [0, 1], got {p}")
    return int(c * (1 - p))


@torch.no_grad()
def _copy_bn(dst: nn.BatchNorm2d | nn.BatchNorm1d, src, idx) -> None:
    dst.weight.copy_(src.weight[idx])
    dst.bias.copy_(src.bias[idx])
    dst.running_mean.copy_(src.running_mean[idx])
    dst.running_var.copy_(src.running_var[idx])


@torch.no_grad()
def prune_vgg(model: VGG, widths=VGG16_PRUNED) -> VGG:
    """A VGG at ``widths`` (same "M" positions) holding the top-L1 filters of every conv."""
    if [v for v in widths if v == "M"] != [v for v in model.cfg if v == "M"] or len(widths) != len(model.cfg):
        raise ValueError(f"plan widths {widths} do not match the network's layout {model.cfg}")
    new = VGG(widths, classes=model.classifier[-1].out_features, in_channels=model.features[0].in_channels)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    nconvs = [m for m in new.features if isinstance(m, nn.Conv2d)]
    nbns = [m for m in new.features if isinstance(m, nn.BatchNorm2d)]
    prev = torch.arange(convs[0].in_channels)
    for i, (c, b, nc, nb) in enumerate(zip(convs, bns, nconvs, nbns)):
        idx = keep_top(c.weight, nc.out_channels, f"conv {i + 1}")
        nc.weight.copy_(c.weight[idx][:, prev])
        _copy_bn(nb, b, idx)
        prev = idx
    fc, nfc = model.classifier[0], new.classifier[0]
    nfc.weight.copy_(fc.weight[:, prev])
    nfc.bias.copy_(fc.bias)
    _copy_bn(new.classifier[1], model.classifier[1], torch.arange(512))
    new.classifier[3].load_state_dict(model.classifier[3].state_dict())
    return new


@torch.no_grad()
def prune_resnet(model: CifarResNet, ratios: tuple[float, float, float], skip=()) -> CifarResNet:
    """Prune each block's first conv by its stage's ratio (layer ids in ``skip`` kept whole)."""
    if len(ratios) != 3:
        raise ValueError(f"ratios must give one pruning ratio per stage (3), got {len(ratios)}")
    n = len(model.blocks) // 3
    keeps, inner = [], []
    for i, blk in enumerate(model.blocks):
        layer_id = 2 + 2 * i  # stem = 1; block i: conv1 = 2 + 2i, conv2 = 3 + 2i
        c = blk.conv1.out_channels
        k = c if layer_id in skip else n_keep(c, ratios[i // n], f"layer {layer_id}")
        keeps.append(keep_top(blk.conv1.weight, k, f"layer {layer_id}"))
        inner.append(k)
    new = CifarResNet(model.depth, tuple(inner), classes=model.fc.out_features, in_channels=model.conv1.in_channels)
    state = model.state_dict()
    new.load_state_dict({k: v for k, v in state.items() if not k.startswith("blocks.")}, strict=False)
    for blk, nblk, idx in zip(model.blocks, new.blocks, keeps):
        nblk.conv1.weight.copy_(blk.conv1.weight[idx])
        _copy_bn(nblk.bn1, blk.bn1, idx)
        nblk.conv2.weight.copy_(blk.conv2.weight[:, idx])
        nblk.bn2.load_state_dict(blk.bn2.state_dict())
    return new


def prune_network(name: str, model: nn.Module, plan: str = "A") -> nn.Module:
    """The authors' plan for a network of models.build (VGG-16 has one plan)."""
    if name == "vgg16":
        return prune_vgg(model)
    if (name, plan) not in RESNET_PLANS:
        raise ValueError(f"no plan {plan!r} for {name!r}; known: {sorted(RESNET_PLANS)} and vgg16")
    ratios, skip = RESNET_PLANS[(name, plan)]
    return prune_resnet(model, ratios, skip)
