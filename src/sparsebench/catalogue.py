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
        # square linear layers, batch 256 (anchors.md)
        Layer("linear-1024", "mlp", LinearShape(batch=256, in_features=1024, out_features=1024)),
        Layer("linear-4096", "mlp", LinearShape(batch=256, in_features=4096, out_features=4096)),
    )
}

SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
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
    "quick": Profile("quick", layers=("resnet-128x16", "alexnet-conv4", "linear-1024"), sparsities=(0.0, 0.9),
                     threads=(1,)),
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
