"""The one catalogue: layer shapes and profiles (which layers, sparsities and thread counts a
run covers). Methods turn a profile into their benchmark cases (sparsebench.methods.cases);
pytest-benchmark (bench/), asv (suites/), `sparsebench run` and the reports all enumerate them
from here: nothing else lists shapes or sparsities.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .measure.flops import Conv2dShape, LinearShape

BATCH = 32  # CIFAR-ResNet / AlexNet conv benchmarks (issue: batch 32)


@dataclass(frozen=True)
class Layer:
    name: str
    net: str
    shape: Conv2dShape | LinearShape

    @property
    def kind(self) -> str:
        return "conv" if isinstance(self.shape, Conv2dShape) else "linear"


def _conv(name: str, net: str, cin: int, cout: int, hw: int, k: int = 3, stride: int = 1, pad: int = 1,
          n: int = BATCH) -> Layer:
    return Layer(name, net, Conv2dShape(n=n, cin=cin, h=hw, w=hw, cout=cout, kh=k, kw=k, stride=stride, padding=pad))


LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        # CIFAR-ResNet 3x3 stride-1 convolutions, one per stage
        _conv("resnet-64x32", "cifar-resnet", 64, 64, 32),
        _conv("resnet-128x16", "cifar-resnet", 128, 128, 16),
        _conv("resnet-256x8", "cifar-resnet", 256, 256, 8),
        _conv("resnet-512x4", "cifar-resnet", 512, 512, 4),
        # AlexNet conv3-conv5 at 13x13 (SSL's claim is on these layers)
        _conv("alexnet-conv3", "alexnet", 256, 384, 13),
        _conv("alexnet-conv4", "alexnet", 384, 384, 13),
        _conv("alexnet-conv5", "alexnet", 384, 256, 13),
        # where real networks spend their time besides 3x3 stride 1 (issue 18); ImageNet-size
        # layers at batch 16 so one case stays under a second at 1 thread
        # 1x1: ResNet-50 bottleneck reduce convolutions at 28x28, 14x14, 7x7
        _conv("r50-1x1-28", "resnet50", 512, 128, 28, k=1, pad=0, n=16),
        _conv("r50-1x1-14", "resnet50", 1024, 256, 14, k=1, pad=0, n=16),
        _conv("r50-1x1-7", "resnet50", 2048, 512, 7, k=1, pad=0, n=16),
        # 1x1: MobileNetV2 expand / project (t = 6) at 28x28 and 14x14
        _conv("mbv2-expand-28", "mobilenetv2", 32, 192, 28, k=1, pad=0),
        _conv("mbv2-project-28", "mobilenetv2", 192, 32, 28, k=1, pad=0),
        _conv("mbv2-expand-14", "mobilenetv2", 64, 384, 14, k=1, pad=0),
        _conv("mbv2-project-14", "mobilenetv2", 384, 64, 14, k=1, pad=0),
        # 3x3 stride 2: the CIFAR ResNet-18 stage transition and ResNet-50's at 56x56
        _conv("resnet-3x3s2-64x16", "cifar-resnet", 64, 128, 16, stride=2),
        _conv("r50-3x3s2-56", "resnet50", 128, 128, 56, stride=2, n=16),
        # AlexNet conv1 (11x11 stride 4 on 224x224) and conv2 (5x5 at 27x27), torchvision widths
        _conv("alexnet-conv1", "alexnet", 3, 64, 224, k=11, stride=4, pad=2, n=16),
        _conv("alexnet-conv2", "alexnet", 64, 192, 27, k=5, pad=2, n=16),
        # square linear layers, batch 256 (anchors.md)
        Layer("linear-1024", "mlp", LinearShape(batch=256, in_features=1024, out_features=1024)),
        Layer("linear-4096", "mlp", LinearShape(batch=256, in_features=4096, out_features=4096)),
    )
}

# 0.6 and 0.7: the break-even sparsities the kernel-rate targets name (block <= 0.6, unstructured <= 0.7)
SPARSITIES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
THREADS = (1, 2)  # 2 = every core of the reference machine


@dataclass(frozen=True)
class Profile:
    """What a run covers. A method reads ``name`` for its own grid (e.g. pruning rates)."""

    name: str
    layers: tuple[str, ...]
    sparsities: tuple[float, ...]
    threads: tuple[int, ...]
    formats: tuple[str, ...] | None = None  # None: every registered format


PROFILES: dict[str, Profile] = {
    # regression smoke test: one layer, one sparsity, every scheme (asv Smoke* classes)
    "smoke": Profile("smoke", layers=("resnet-128x16",), sparsities=(0.9,), threads=(1,)),
    # minutes on 2 cores: one layer per network kind, the sparsities the claims need
    "quick": Profile("quick", layers=("resnet-128x16", "alexnet-conv4", "linear-1024", "mbv2-expand-14",
                                      "resnet-3x3s2-64x16"), sparsities=(0.0, 0.9), threads=(1,)),
    "full": Profile("full", layers=tuple(LAYERS), sparsities=SPARSITIES, threads=THREADS),
}
PROFILE_ENV = "SPARSEBENCH_PROFILE"


def profile(name: str | None = None) -> Profile:
    name = name or os.environ.get(PROFILE_ENV) or "quick"
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {sorted(PROFILES)}") from None


def layer(name: str) -> Layer:
    """A catalogue layer by name, or a user's own shape spec ("conv:cin=...", sparsebench.shapes)."""
    if name in LAYERS:
        return LAYERS[name]
    from . import shapes

    if shapes.is_spec(name):
        return shapes.parse(name)
    raise KeyError(f"unknown layer {name!r}: not in the catalogue ({', '.join(LAYERS)}) and not a shape spec "
                   "(conv:... or linear:...)")


def has_layer(name: str) -> bool:
    try:
        layer(name)
    except (KeyError, ValueError):
        return False
    return True


# --- whole networks (`sparsebench train`; builders in sparsebench.models) -----------------------


@dataclass(frozen=True)
class Network:
    name: str
    input: tuple[int, int, int]  # (C, H, W) of one sample
    batch: int
    classes: int
    doc: str

    @property
    def input_numel(self) -> int:
        c, h, w = self.input
        return c * h * w


NETWORKS: dict[str, Network] = {
    n.name: n
    for n in (
        Network("resnet20", (3, 32, 32), 32, 10, "CIFAR ResNet-20"),
        Network("resnet32", (3, 32, 32), 32, 10, "CIFAR ResNet-32"),
        Network("resnet56", (3, 32, 32), 32, 10, "CIFAR ResNet-56"),
        Network("resnet18", (3, 32, 32), 32, 10, "ResNet-18 on CIFAR-size input"),
        Network("vgg16", (3, 32, 32), 32, 10, "VGG-16 (CIFAR, BN)"),
        Network("alexnet", (3, 32, 32), 32, 10, "AlexNet, CIFAR-size"),
        Network("alexnet224", (3, 224, 224), 8, 10, "AlexNet, 224x224 input, small batch"),
        Network("mobilenetv2", (3, 32, 32), 32, 10, "MobileNetV2-style, groups = 1 3x3 convolutions"),
        Network("mobilenetv2-dw", (3, 32, 32), 32, 10, "MobileNetV2-style, depthwise 3x3 (stay dense)"),
        Network("mlp", (1, 28, 28), 256, 10, "MLP 784-1024-1024-10"),
    )
}
# the networks the quick profile's whole-network runs (validate, report) use
QUICK_NETWORKS = ("resnet20", "alexnet")


@dataclass(frozen=True)
class Curves:
    """The speedup-vs-sparsity curves `sparsebench validate` measures beside the claims, so the
    report draws multi-point curves: ``stages`` of every scheme on ``layers`` at ``sparsities``,
    and one whole-network line (``network``, every method's first training scheme)."""

    layers: tuple[str, ...]
    sparsities: tuple[float, ...]
    stages: tuple[str, ...]
    network: str
    network_steps: int


CURVES: dict[str, Curves] = {
    "quick": Curves(("resnet-128x16", "linear-1024"), (0.5, 0.7, 0.9, 0.95), ("forward",), "resnet20", 3),
    "full": Curves(("resnet-128x16", "alexnet-conv4", "r50-1x1-14", "linear-1024"), (0.5, 0.7, 0.8, 0.9, 0.95, 0.99),
                   ("forward", "backward_data", "weight_grad_sampled", "step"), "resnet20", 10),
}
