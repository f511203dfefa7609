"""L1-norm filter pruning (Li et al., ICLR 2017, "Pruning Filters for Efficient ConvNets"):
per-filter sum |W| ranking, one-shot removal of filters with their BN channels and the next
layer's matching input channels, then fine-tuning; VGG-16 and ResNet-56 / ResNet-110 (CIFAR)
with the authors' per-layer plans, FLOPs counted from the definitions, pruned-network timing.

  models.py  VGG-16 / CIFAR ResNets with per-layer widths   prune.py  ranking, plans, surgery
  flops.py   counted FLOPs + FlopCounterMode cross-check    timing.py forward / step wall-clock
  claims.py  the counted-FLOP claim comparison
(prune-then-fine-tune on offline data: merging/experiment.py's "prune+finetune" rows)
"""

from __future__ import annotations

from ..base import Method
from .prune import filter_l1, keep_top, prune_network, prune_resnet, prune_vgg


def _counted(claim, records):
    from .claims import counted_flops

    return counted_flops(claim, records)


class L1FilterMethod(Method):
    name = "l1_filter"
    title = "L1-norm filter pruning (one shot, whole networks, counted FLOPs)"
    rate_label = "pruning ratio p"
    claim_measures = {"counted_flops": _counted}


METHOD = L1FilterMethod()

__all__ = ["METHOD", "filter_l1", "keep_top", "prune_network", "prune_resnet", "prune_vgg"]
