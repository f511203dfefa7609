"""A small model zoo for whole-network training runs (`sparsebench train`).

Each builder returns a freshly initialised torch model (seeded by the caller); the input shape,
batch and class count of every model are in the catalogue (``sparsebench.catalogue.NETWORKS``),
so nothing else lists them.

  resnet20 / resnet32 / resnet56  CIFAR ResNets (He et al. 2016, option-B 1x1 projection shortcuts)
  resnet18                        ImageNet-style ResNet-18 adapted to 32x32 (3x3 stem, no max-pool)
  vgg16                           VGG-16 for CIFAR (13 3x3 convs with BN, one linear classifier)
  alexnet / alexnet224            AlexNet: a CIFAR-size variant (5 convs on 32x32) and the
                                  original geometry (11x11 stride 4, 5x5, 3x3) on 224x224
  mobilenetv2                     MobileNetV2-style inverted residuals (expand 1x1, 3x3, project 1x1)
                                  whose 3x3 is a groups = 1 convolution: the sparse formats and
                                  the actgrad kernels have no depthwise (groups = C) path yet
  mobilenetv2-dw                  the same with real depthwise 3x3 convolutions: those layers stay
                                  dense under every method (what a scheme cannot hold is reported)
  mlp                             784-1024-1024-10 multilayer perceptron on flattened input
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..catalogue import NETWORKS


def _bn_relu_conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, widths: tuple[int, ...], blocks: tuple[int, ...], classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_bn_relu_conv(in_channels, widths[0], 3))
        layers, cin = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def cifar_resnet(depth: int, classes: int = 10) -> ResNet:
    n = (depth - 2) // 6
    return ResNet((16, 32, 64), (n, n, n), classes)


def resnet18(classes: int = 10) -> ResNet:
    return ResNet((64, 128, 256, 512), (2, 2, 2, 2), classes)


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG(nn.Module):
    def __init__(self, cfg=_VGG16, classes: int = 10) -> None:
        super().__init__()
        layers, cin = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += _bn_relu_conv(cin, v, 3)
                cin = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class AlexNet(nn.Module):
    """AlexNet's five convolutions (with ReLU, max-pools after conv1, conv2, conv5) and three
    linear layers. ``imagenet``: the original geometry on 224x224; else a CIFAR-size variant on
    32x32 (5x5 / 3x3 kernels, stride 1, as in the CIFAR AlexNets of the pruning literature)."""

    def __init__(self, classes: int = 10, imagenet: bool = False) -> None:
        super().__init__()
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        if imagenet:
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 11, 4, 2), relu(), nn.MaxPool2d(3, 2),
                nn.Conv2d(64, 192, 5, 1, 2), relu(), nn.MaxPool2d(3, 2),
                nn.Conv2d(192, 384, 3, 1, 1), relu(), nn.Conv2d(384, 256, 3, 1, 1), relu(),
                nn.Conv2d(256, 256, 3, 1, 1), relu(), nn.MaxPool2d(3, 2))
            flat, hidden = 256 * 6 * 6, 4096
        else:
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 5, 1, 2), relu(), nn.MaxPool2d(2),
                nn.Conv2d(64, 192, 5, 1, 2), relu(), nn.MaxPool2d(2),
                nn.Conv2d(192, 384, 3, 1, 1), relu(), nn.Conv2d(384, 256, 3, 1, 1), relu(),
                nn.Conv2d(256, 256, 3, 1, 1), relu(), nn.MaxPool2d(2))
            flat, hidden = 256 * 4 * 4, 1024
        self.classifier = nn.Sequential(nn.Linear(flat, hidden), relu(), nn.Linear(hidden, hidden), relu(),
                                        nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int, depthwise: bool) -> None:
        super().__init__()
        hidden = cin * expand
        layers = _bn_relu_conv(cin, hidden, 1) if expand != 1 else []
        layers += _bn_relu_conv(hidden, hidden, 3, stride, groups=hidden if depthwise else 1)
        layers += [nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2-style CIFAR network, width 0.5 and expansion 4 (t = 6 in the paper) so a
    groups = 1 3x3 stays affordable; ``depthwise``: the paper's groups = C 3x3 convolutions."""

    # (expansion, out channels, blocks, first stride)
    CFG = ((1, 8, 1, 1), (4, 16, 2, 1), (4, 16, 3, 2), (4, 32, 4, 2), (4, 48, 3, 1), (4, 80, 3, 2), (4, 160, 1, 1))

    def __init__(self, classes: int = 10, depthwise: bool = False) -> None:
        super().__init__()
        layers, cin = _bn_relu_conv(3, 16, 3), 16
        for t, c, n, s in self.CFG:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t, depthwise))
                cin = c
        layers += _bn_relu_conv(cin, 640, 1)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(640, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class MLP(nn.Module):
    def __init__(self, in_features: int = 784, hidden: int = 1024, classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "resnet20": lambda k: cifar_resnet(20, k),
    "resnet32": lambda k: cifar_resnet(32, k),
    "resnet56": lambda k: cifar_resnet(56, k),
    "resnet18": resnet18,
    "vgg16": lambda k: VGG(classes=k),
    "alexnet": lambda k: AlexNet(k),
    "alexnet224": lambda k: AlexNet(k, imagenet=True),
    "mobilenetv2": lambda k: MobileNetV2(k),
    "mobilenetv2-dw": lambda k: MobileNetV2(k, depthwise=True),
    "mlp": lambda k: MLP(NETWORKS["mlp"].input_numel, 1024, k),
}


def network(name: str, input_shape=None):
    """The catalogue Network of a zoo model, or of a user's ``package.module:factory`` (whose
    ``input_shape`` C,H,W is required; see models.user)."""
    from . import user

    if user.is_factory(name):
        return user.network(name, None if input_shape is None else user.parse_input_shape(input_shape))
    if name not in NETWORKS:
        raise ValueError(f"--model: unknown model {name!r}; known: {', '.join(BUILDERS)}, "
                         "or package.module:factory with --input-shape")
    if input_shape is not None and tuple(user.parse_input_shape(input_shape)) != NETWORKS[name].input:
        raise ValueError(f"--input-shape: zoo model {name!r} takes {NETWORKS[name].input}, got {input_shape!r}")
    return NETWORKS[name]


def build(name: str, seed: int = 0) -> nn.Module:
    """A freshly initialised model of the zoo, or of a user's factory (torch's default init
    under ``seed``)."""
    from . import user

    if user.is_factory(name):
        return user.build(name, seed)
    if name not in BUILDERS:
        raise ValueError(f"--model: unknown model {name!r}; known: {', '.join(BUILDERS)}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return BUILDERS[name](NETWORKS[name].classes)


def names() -> list[str]:
    return list(BUILDERS)
