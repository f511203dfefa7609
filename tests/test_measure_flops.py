import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from sparsebench.measure import (
    SGD_UPDATE_FLOPS_PER_WEIGHT,
    STAGES,
    Conv2dShape,
    LinearShape,
    dense_flops,
    effective_flops,
    flop_reduction,
)

CONV_SHAPES = [
    Conv2dShape(n=2, cin=3, h=8, w=8, cout=4, kh=3, kw=3, stride=1, padding=1),
    Conv2dShape(n=2, cin=3, h=9, w=9, cout=4, kh=3, kw=3, stride=2, padding=1),
    Conv2dShape(n=1, cin=4, h=10, w=11, cout=6, kh=3, kw=3, stride=2, padding=0),
    Conv2dShape(n=2, cin=8, h=7, w=7, cout=16, kh=1, kw=1),
    Conv2dShape(n=1, cin=8, h=8, w=8, cout=4, kh=1, kw=1, stride=2),
]
LINEAR_SHAPES = [LinearShape(batch=5, in_features=7, out_features=3), LinearShape(32, 64, 16)]


def counted(fn):
    mode = FlopCounterMode(display=False)
    with mode:
        fn()
    return mode.get_total_flops()


def conv_inputs(s: Conv2dShape):
    torch.manual_seed(0)
    x = torch.randn(s.n, s.cin, s.h, s.w, requires_grad=True)
    w = torch.randn(s.cout, s.cin, s.kh, s.kw, requires_grad=True)
    return x, w


def test_shape_properties():
    s = Conv2dShape(n=2, cin=3, h=9, w=9, cout=4, kh=3, kw=3, stride=2, padding=1)
    assert (s.ho, s.wo) == (5, 5)
    assert s.p == 2 * 5 * 5
    assert s.k == 27
    assert s.weight_numel == 4 * 27
    lin = LinearShape(batch=5, in_features=7, out_features=3)
    assert (lin.p, lin.k, lin.cout, lin.weight_numel) == (5, 7, 3, 21)


@pytest.mark.parametrize("s", CONV_SHAPES, ids=str)
def test_conv_output_size_matches_torch(s):
    x, w = conv_inputs(s)
    y = F.conv2d(x, w, stride=s.stride, padding=s.padding)
    assert tuple(y.shape) == (s.n, s.cout, s.ho, s.wo)


@pytest.mark.parametrize("s", CONV_SHAPES, ids=str)
def test_conv_dense_flops_match_flop_counter(s):
    x, w = conv_inputs(s)
    conv = lambda: F.conv2d(x, w, stride=s.stride, padding=s.padding)  # noqa: E731
    assert counted(conv) == dense_flops(s, "forward")

    y = conv()
    go = torch.randn_like(y)
    grad_x = lambda: torch.autograd.grad(y, x, go, retain_graph=True)  # noqa: E731
    grad_w = lambda: torch.autograd.grad(y, w, go, retain_graph=True)  # noqa: E731
    grad_both = lambda: torch.autograd.grad(y, (x, w), go, retain_graph=True)  # noqa: E731
    # autograd passes convolution_backward an output_mask with only the requested grad, and
    # FlopCounterMode (torch 2.13) honours it: one stage each, both = the sum.
    assert counted(grad_x) == dense_flops(s, "backward_data")
    assert counted(grad_w) == dense_flops(s, "weight_grad")
    assert counted(grad_both) == dense_flops(s, "backward_data") + dense_flops(s, "weight_grad")


def test_conv_weight_grad_when_input_needs_no_grad():
    s = CONV_SHAPES[1]
    x, w = conv_inputs(s)
    x = x.detach()  # first layer of a network: no dX is ever computed
    y = F.conv2d(x, w, stride=s.stride, padding=s.padding)
    assert counted(lambda: y.backward(torch.ones_like(y))) == dense_flops(s, "weight_grad")


def test_conv_bias_is_not_counted():
    s = CONV_SHAPES[0]
    x, w = conv_inputs(s)
    b = torch.randn(s.cout)
    assert counted(lambda: F.conv2d(x, w, b, padding=s.padding)) == dense_flops(s, "forward")


@pytest.mark.parametrize("s", LINEAR_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [False, True])
def test_linear_dense_flops_match_flop_counter(s, bias):
    torch.manual_seed(0)
    x = torch.randn(s.batch, s.in_features, requires_grad=True)
    w = torch.randn(s.out_features, s.in_features, requires_grad=True)
    b = torch.randn(s.out_features) if bias else None
    assert counted(lambda: F.linear(x, w, b)) == dense_flops(s, "forward")
    y = F.linear(x, w, b)
    go = torch.randn_like(y)
    assert counted(lambda: torch.autograd.grad(y, x, go, retain_graph=True)) == dense_flops(
        s, "backward_data"
    )
    assert counted(lambda: torch.autograd.grad(y, w, go, retain_graph=True)) == dense_flops(
        s, "weight_grad"
    )


class _ElementwiseFlops(TorchDispatchMode):
    """FlopCounterMode ignores pointwise ops, so count SGD's own: a scaled add (alpha != 1) is a
    multiply-add = 2 FLOPs per element, a plain add or a mul 1."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.overloadpacket.__name__.rstrip("_")
        if name in ("add", "sub"):
            self.flops += args[0].numel() * (1 if kwargs.get("alpha", 1) == 1 else 2)
        elif name in ("mul", "div"):
            self.flops += args[0].numel()
        return out


def test_update_flops_match_torch_sgd_with_momentum_and_weight_decay():
    s = LinearShape(batch=1, in_features=7, out_features=3)
    p = torch.nn.Parameter(torch.randn(s.out_features, s.in_features))
    p.grad = torch.randn_like(p)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=False)
    opt.step()  # the first step only creates the momentum buffer (a clone)
    mode = _ElementwiseFlops()
    with mode:
        opt.step()
    assert mode.flops == dense_flops(s, "update") == SGD_UPDATE_FLOPS_PER_WEIGHT * 21


def test_dense_gemm_stages_are_equal_and_update_is_per_weight():
    s = CONV_SHAPES[0]
    assert dense_flops(s, "forward") == 2 * s.p * s.cout * s.k
    assert dense_flops(s, "forward") == dense_flops(s, "backward_data") == dense_flops(s, "weight_grad")
    assert dense_flops(s, "update") == SGD_UPDATE_FLOPS_PER_WEIGHT * s.weight_numel


def test_effective_flops_scaling():
    s = Conv2dShape(n=4, cin=16, h=8, w=8, cout=32, kh=3, kw=3, padding=1)
    d = {st: dense_flops(s, st) for st in STAGES}
    for st in STAGES:
        assert effective_flops(s, st) == d[st]
        # weight sparsity skips work everywhere but in the full dense dW (regrowth needs all of it)
        want = d[st] if st == "weight_grad" else round(d[st] * 0.25)
        assert effective_flops(s, st, weight_density=0.25) == want
    assert d["weight_grad_sampled"] == d["weight_grad"]
    # A sparse output gradient affects only the stages that read it.
    assert effective_flops(s, "forward", grad_density=0.5) == d["forward"]
    assert effective_flops(s, "update", grad_density=0.5) == d["update"]
    assert effective_flops(s, "backward_data", grad_density=0.5) == d["backward_data"] // 2
    assert effective_flops(s, "weight_grad", grad_density=0.5) == d["weight_grad"] // 2
    both = effective_flops(s, "weight_grad_sampled", weight_density=0.1, grad_density=0.5)
    assert both == round(d["weight_grad"] * 0.05)
    assert effective_flops(s, "forward", weight_density=0.0) == 0
    assert isinstance(effective_flops(s, "forward", weight_density=1 / 3), int)


def test_effective_spmm_matches_nnz_definition():
    # 2 * nnz * N for a linear layer with an exact nnz count.
    s = LinearShape(batch=16, in_features=40, out_features=10)
    mask = np.zeros(s.weight_numel, dtype=bool)
    mask[:100] = True  # nnz = 100 of 400
    assert effective_flops(s, "forward", weight_density=mask.mean()) == 2 * 100 * s.batch


def test_flop_reduction():
    assert flop_reduction(100, 25) == 4.0
    assert flop_reduction(100, 0) == math.inf
    assert math.isnan(flop_reduction(0, 0))


@pytest.mark.parametrize(
    "call",
    [
        lambda s: dense_flops(s, "no-such-stage"),  # ("backward" and "step" are composite stages now)
        lambda s: effective_flops(s, "forward", weight_density=1.5),
        lambda s: effective_flops(s, "forward", grad_density=-0.1),
        lambda s: effective_flops(s, "forward", weight_density=float("nan")),
    ],
)
def test_rejects_bad_stage_and_density(call):
    with pytest.raises(ValueError):
        call(CONV_SHAPES[0])


def test_composite_stages_sum_their_parts():
    from sparsebench.measure import COMPOSITE_STAGES

    s = CONV_SHAPES[0]
    for stage, parts in COMPOSITE_STAGES.items():
        assert dense_flops(s, stage) == sum(dense_flops(s, p) for p in parts)
        assert effective_flops(s, stage, weight_density=0.25, grad_density=0.5) == sum(
            effective_flops(s, p, weight_density=0.25, grad_density=0.5) for p in parts)


def test_shapes_validate_and_normalise_ints():
    with pytest.raises(ValueError):
        Conv2dShape(n=1, cin=1, h=2, w=2, cout=1, kh=3, kw=3)  # kernel larger than input
    with pytest.raises(ValueError):
        Conv2dShape(n=0, cin=1, h=4, w=4, cout=1, kh=3, kw=3)
    with pytest.raises(ValueError):
        LinearShape(batch=2.5, in_features=3, out_features=4)
    s = LinearShape(np.int64(2), 3, 4)
    assert type(s.batch) is int and s == LinearShape(2, 3, 4)
