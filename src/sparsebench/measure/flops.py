"""Analytic FLOP model per training stage (a multiply-add = 2 FLOPs).

A conv layer is counted as its lowered (im2col) GEMM: P = N*Ho*Wo output pixels, K = Cin*Kh*Kw
reduction length, Cout filters. Each of the three GEMM stages is then 2*P*Cout*K:
  forward        Y[P,Cout]   = X[P,K]  @ W[K,Cout]
  backward_data  dX[P,K]     = dY[P,Cout] @ W^T      (then col2im, additions not counted)
  weight_grad    dW[K,Cout]  = X^T @ dY[P,Cout]
Bias is ignored. Dense counts are cross-checked against torch's FlopCounterMode in the tests.

Effective FLOPs count only the multiply-adds a sparse kernel must do (2*nnz*N for SpMM, 2*nnz_mask*P
for the SDDMM weight gradient), expressed through densities so one shape serves all sparsities.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

from .. import stages as _stages

__all__ = [
    "STAGES",
    "COMPOSITE_STAGES",
    "SGD_UPDATE_FLOPS_PER_WEIGHT",
    "Conv2dShape",
    "LinearShape",
    "dense_flops",
    "effective_flops",
    "flop_reduction",
]

# The GEMM stages this model counts, keyed by the names of sparsebench.stages (one vocabulary);
# composite stages are the sum of their parts (stages.parts).
STAGES = tuple(s for s in _stages.ATOMIC if s not in _stages.DATA_MOVEMENT)
COMPOSITE_STAGES = {name: _stages.STAGES[name].parts for name in _stages.COMPOSITE}

# SGD with momentum and weight decay, per weight element, as torch.optim.SGD does it
# (dampening 0, no Nesterov), counting a multiply-add as 2 like the GEMMs:
#   g   = g + wd * w        2  (weight-decay axpy)
#   buf = mu * buf + g      2  (momentum: scale + add)
#   w   = w - lr * buf      2  (update axpy)
# = 6. (4 would be momentum without weight decay.) The tests count torch's own SGD ops to
# check this number.
SGD_UPDATE_FLOPS_PER_WEIGHT = 6


def _set_ints(obj, names: tuple[str, ...], minimum: dict[str, int]) -> None:
    """Validate the fields and store them as Python ints (numpy ints would overflow at int64
    for very large products, and would make the dataclass hash differently)."""
    for name in names:
        value = getattr(obj, name)
        try:
            if isinstance(value, bool):
                raise TypeError
            as_int = operator.index(value)
        except TypeError:
            raise ValueError(f"{name} must be an int, got {value!r}") from None
        low = minimum.get(name, 1)
        if as_int < low:
            raise ValueError(f"{name} must be >= {low}, got {as_int}")
        object.__setattr__(obj, name, as_int)


@dataclass(frozen=True)
class Conv2dShape:
    n: int
    cin: int
    h: int
    w: int
    cout: int
    kh: int
    kw: int
    stride: int = 1
    padding: int = 0

    def __post_init__(self) -> None:
        _set_ints(
            self,
            ("n", "cin", "h", "w", "cout", "kh", "kw", "stride", "padding"),
            {"padding": 0},
        )
        if self.ho < 1 or self.wo < 1:
            raise ValueError(f"kernel larger than padded input: {self}")

    @property
    def ho(self) -> int:
        return (self.h + 2 * self.padding - self.kh) // self.stride + 1

    @property
    def wo(self) -> int:
        return (self.w + 2 * self.padding - self.kw) // self.stride + 1

    @property
    def p(self) -> int:
        return self.n * self.ho * self.wo

    @property
    def k(self) -> int:
        return self.cin * self.kh * self.kw

    @property
    def weight_numel(self) -> int:
        return self.cout * self.k

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.cout, self.cin, self.kh, self.kw)


@dataclass(frozen=True)
class LinearShape:
    batch: int
    in_features: int
    out_features: int

    def __post_init__(self) -> None:
        _set_ints(self, ("batch", "in_features", "out_features"), {})

    @property
    def p(self) -> int:
        return self.batch

    @property
    def k(self) -> int:
        return self.in_features

    @property
    def cout(self) -> int:
        return self.out_features

    @property
    def weight_numel(self) -> int:
        return self.out_features * self.in_features

    @property
    def weight_shape(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def dense_flops(shape: Conv2dShape | LinearShape, stage: str, *, sampled: bool = False) -> int:
    """Dense FLOPs of a stage (a composite: of its parts; ``sampled``: the composite's weight
    gradient is the one at kept positions, whose dense count is the same)."""
    if stage in COMPOSITE_STAGES:
        return sum(dense_flops(shape, part) for part in _stages.parts(stage, sampled=sampled))
    if stage in _stages.DATA_MOVEMENT:
        return 0
    _check_stage(stage)
    if stage == "update":
        return SGD_UPDATE_FLOPS_PER_WEIGHT * shape.weight_numel
    return 2 * shape.p * shape.cout * shape.k


def _check_density(name: str, d: float) -> None:
    if not (0.0 <= d <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {d!r}")


def effective_flops(
    shape: Conv2dShape | LinearShape,
    stage: str,
    *,
    weight_density: float = 1.0,
    grad_density: float = 1.0,
    sampled: bool = False,
) -> int:
    """FLOPs needed given the zeros.

    weight_density (sparse weights) scales every stage but the full weight gradient: the forward
    and backward-data SpMMs touch only nonzero weights, weight_grad_sampled is sampled at the mask
    (SDDMM), and the optimizer updates only kept weights; weight_grad (the full dW) is dense.
    grad_density (pruned output/activation gradient dY) scales the two stages that read dY:
    backward_data and weight_grad. When both are given they multiply, i.e. the expected count
    if the two zero patterns are independent.
    """
    if stage in COMPOSITE_STAGES:
        return sum(effective_flops(shape, part, weight_density=weight_density, grad_density=grad_density)
                   for part in _stages.parts(stage, sampled=sampled))
    if stage in _stages.DATA_MOVEMENT:
        return 0
    _check_stage(stage)
    _check_density("weight_density", weight_density)
    _check_density("grad_density", grad_density)
    scale = 1.0 if stage == _stages.WEIGHT_GRAD else weight_density
    if stage in ("backward_data", _stages.WEIGHT_GRAD, _stages.WEIGHT_GRAD_SAMPLED):
        scale *= grad_density
    return round(dense_flops(shape, stage) * scale)


def flop_reduction(dense: float, effective: float) -> float:
    """dense / effective: the ideal speedup. inf when nothing is left to compute
    (nan if the dense count is 0 as well)."""
    if effective == 0:
        return math.nan if dense == 0 else math.inf
    return dense / effective
