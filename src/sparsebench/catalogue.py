"""The one catalogue of benchmark cases: layers, sparsities, schemes, stages, threads, profiles.

pytest-benchmark microbenchmarks (bench/), asv suites (suites/), `sparsebench run` and the
reports all enumerate cases from here; nothing else lists shapes or sparsities.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Iterator

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
SCHEMES = ("unstructured", "block", "pattern", "filter")
# "backward" = backward_data + weight_grad back to back (compares with fused backward kernels such
# as SparseProp's), "step" = forward + backward of the layer through autograd.
WEIGHT_STAGES = ("forward", "backward_data", "weight_grad", "update", "backward", "step")
ACTGRAD_RATES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
ACTGRAD_STAGES = ("front_end", "backward_data", "weight_grad", "backward")
# "actgrad": the method (DBTD + stochastic pruning, front end paid by every stage; the density it
# reaches is well above 1 - p); "actgrad-exact": dO with exactly a fraction p of zeros, no front
# end, i.e. what the sparse kernels give at the density p implies.
ACTGRAD_SCHEMES = ("actgrad", "actgrad-exact")
THREADS = (1, 2)  # 2 = every core of the reference machine; "all" resolves to os.cpu_count()

# Baselines every record is compared with (measurement.md): PyTorch's own dense CPU kernels and
# torch.sparse CSR on the lowered problem.
BASELINES = ("torch-dense", "torch-sparse")
# Other projects' kernels measured beside ours where they apply (sparsebench.peers): SparseProp on
# unstructured weights, stages forward / backward / step, in a child process.
PEERS = ("sparseprop",)


@dataclass(frozen=True)
class BenchCase:
    suite: str  # "weight_sparse" | "actgrad"
    layer: str
    scheme: str  # weight scheme, or "actgrad" for activation-gradient pruning
    stage: str
    sparsity: float  # weight sparsity, or the pruning rate p for actgrad
    threads: int

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.layer}/{self.scheme}/{self.stage}/s{self.sparsity:g}/t{self.threads}"

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def layer_spec(self) -> Layer:
        return LAYERS[self.layer]


@dataclass(frozen=True)
class Profile:
    layers: tuple[str, ...]
    sparsities: tuple[float, ...]
    rates: tuple[float, ...]
    schemes: tuple[str, ...]
    threads: tuple[int, ...]


PROFILES: dict[str, Profile] = {
    # regression smoke test: one layer, one sparsity, every scheme (asv Smoke* classes)
    "smoke": Profile(layers=("resnet-128x16",), sparsities=(0.9,), rates=(0.9,), schemes=SCHEMES, threads=(1,)),
    # minutes on 2 cores: one layer per network kind, the sparsities the claims need
    "quick": Profile(
        layers=("resnet-128x16", "alexnet-conv4", "linear-1024"),
        sparsities=(0.0, 0.9),
        rates=(0.9, 0.99),
        schemes=SCHEMES,
        threads=(1,),
    ),
    "full": Profile(
        layers=tuple(LAYERS), sparsities=SPARSITIES, rates=ACTGRAD_RATES, schemes=SCHEMES, threads=THREADS
    ),
}
PROFILE_ENV = "SPARSEBENCH_PROFILE"


def profile(name: str | None = None) -> Profile:
    name = name or os.environ.get(PROFILE_ENV) or "quick"
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {sorted(PROFILES)}") from None


def scheme_applies(scheme: str, layer: Layer) -> bool:
    """Pattern sparsity is defined on 3x3 kernels only."""
    if scheme == "pattern":
        return layer.kind == "conv" and (layer.shape.kh, layer.shape.kw) == (3, 3)
    return True


def weight_sparse_cases(prof: Profile) -> Iterator[BenchCase]:
    for layer in prof.layers:
        for scheme in prof.schemes:
            if not scheme_applies(scheme, LAYERS[layer]):
                continue
            for stage in WEIGHT_STAGES:
                for s in prof.sparsities:
                    for t in prof.threads:
                        yield BenchCase("weight_sparse", layer, scheme, stage, s, t)


def actgrad_cases(prof: Profile) -> Iterator[BenchCase]:
    for layer in prof.layers:
        for scheme in ACTGRAD_SCHEMES:
            for stage in ACTGRAD_STAGES:
                if stage == "front_end" and scheme != "actgrad":
                    continue
                for p in prof.rates:
                    for t in prof.threads:
                        yield BenchCase("actgrad", layer, scheme, stage, p, t)


SUITES = {"weight_sparse": weight_sparse_cases, "actgrad": actgrad_cases}


def cases(profile_name: str | None = None, suites: tuple[str, ...] = tuple(SUITES)) -> list[BenchCase]:
    prof = profile(profile_name)
    out: list[BenchCase] = []
    for suite in suites:
        out.extend(SUITES[suite](prof))
    return out
