"""The CIFAR networks of Li et al. (ICLR 2017), with every width a parameter so a pruned network
is the same definition at smaller widths (facts from the paper and its public re-implementation
in rethinking-network-pruning, not their code):

- VGG-16 (CIFAR): 13 3x3 convs with BN + ReLU, max-pools after conv 2, 4, 7, 10, 13, a 2x2
  average pool, then Linear(c, 512) - BN - ReLU - Linear(512, 10).
- ResNet-56 / ResNet-110 (CIFAR): 3x3 stem (16), three stages of n basic blocks (16, 32, 64
  channels, stride 2 at stages 2 and 3), parameter-free shortcuts where the shape changes
  (stride-2 average pool and zero channels: option A), 8x8 average pool, Linear(64, 10).
  ``inner[i]`` is the width of block i's first conv, the only one the paper prunes in a ResNet.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


class VGG(nn.Module):
    def __init__(self, cfg=VGG16, classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        layers, cin = [], in_channels
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, v, 3, 1, 1, bias=False), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                cin = v
        self.cfg = tuple(cfg)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(cin, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
                                        nn.Linear(512, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.avg_pool2d(self.features(x), 2), 1))


class Block(nn.Module):
    def __init__(self, cin: int, inner: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, inner, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def shortcut(self, x):
        if self.stride == 1 and self.pad == 0:
            return x
        x = F.avg_pool2d(x, self.stride) if self.stride > 1 else x
        return F.pad(x, (0, 0, 0, 0, 0, self.pad))  # option A: zero channels, no parameters

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, inner: tuple[int, ...] | None = None, classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2, got {depth}")
        n = (depth - 2) // 6
        widths = [16] * n + [32] * n + [64] * n
        inner = tuple(widths) if inner is None else tuple(inner)
        if len(inner) != 3 * n:
            raise ValueError(f"inner must have {3 * n} widths (one per block), got {len(inner)}")
        self.depth, self.inner = depth, inner
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for i, (w, k) in enumerate(zip(widths, inner)):
            blocks.append(Block(cin, k, w, 2 if i in (n, 2 * n) else 1))
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(name: str, seed: int = 0) -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if name == "vgg16":
            return VGG()
        if name.startswith("resnet"):
            return CifarResNet(int(name[len("resnet"):]))
    raise ValueError(f"unknown network {name!r}; known: vgg16, resnet56, resnet110 (any resnet<6n+2>)")
