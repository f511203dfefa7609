"""SparseConv2d / SparseLinear against torch autograd of the masked dense layer, every scheme,
every usable ISA variant; and a small CNN that trains on them like its masked dense twin."""

import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparsebench import kernels
from sparsebench.registry import Comparison, assert_agree
from sparsebench.formats import available_formats, get_format
from sparsebench.formats.modules import SparseConv2d, SparseLinear

SCHEMES = available_formats()
CONV_GEOMS = [(3, 1, 1), (3, 2, 1), (1, 1, 0), (3, 1, 0)]  # kernel, stride, padding


def _tol(k: int) -> Comparison:
    return Comparison.float32_reduction(k, scale=4.0, why="float32 sums reordered vs oneDNN")


@pytest.fixture(params=kernels.usable_isas())
def isa_env(request, monkeypatch):
    monkeypatch.setenv(kernels.ISA_ENV, request.param)
    return request.param


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("k,stride,pad", CONV_GEOMS)
def test_conv_matches_masked_dense_autograd(scheme, k, stride, pad, isa_env):
    if not get_format(scheme).accepts((8, 5, k, k)):
        pytest.skip(f"{scheme} not defined for {k}x{k}")
    torch.manual_seed(0)
    layer = SparseConv2d(5, 8, k, stride, pad, scheme=scheme, sparsity=0.7, threads=2)
    w = layer.dense_weight().clone().requires_grad_(True)
    x = torch.randn(3, 5, 9, 11, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y = layer(x)
    y_ref = F.conv2d(x2, w, layer.bias, stride=stride, padding=pad)
    tol = _tol(5 * k * k)
    assert_agree(y, y_ref, tol, "forward")
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    assert_agree(x.grad, x2.grad, _tol(8 * k * k), "input grad")
    mask = layer.sw.mask()
    dense_grad_of_values = layer.sw.__class__  # noqa: F841  (kept positions only, below)
    assert_agree(torch.where(mask, w.grad, 0), _dense_from_values(layer, layer.values.grad),
                 _tol(3 * y.shape[2] * y.shape[3]), "weight grad at kept positions")


def _dense_from_values(layer, grad_values):
    """Scatter a values-shaped gradient to the dense weight shape using the scheme itself."""
    saved = layer.sw.values.detach().clone()
    with torch.no_grad():
        layer.sw.values.copy_(grad_values)
        dense = layer.sw.to_dense().clone()
        layer.sw.values.copy_(saved)
    return dense


@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s != "pattern"])
def test_linear_matches_masked_dense_autograd(scheme, isa_env):
    torch.manual_seed(1)
    layer = SparseLinear(37, 19, scheme=scheme, sparsity=0.8)
    w = layer.dense_weight().clone().requires_grad_(True)
    x = torch.randn(7, 37, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y, y_ref = layer(x), F.linear(x2, w, layer.bias)
    assert_agree(y, y_ref, _tol(37), "forward")
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    assert_agree(x.grad, x2.grad, _tol(19), "input grad")
    assert_agree(torch.where(layer.sw.mask(), w.grad, 0), _dense_from_values(layer, layer.values.grad), _tol(7),
                 "weight grad")


def _cnn(conv, lin):
    return nn.Sequential(conv(1, 8, 3, 1, 1), nn.ReLU(), conv(8, 16, 3, 2, 1), nn.ReLU(), nn.Flatten(), lin(16 * 4 * 4, 10))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_small_cnn_trains_like_masked_dense(scheme):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    lin_scheme = "unstructured" if scheme == "pattern" else scheme
    sparse = _cnn(lambda *a: SparseConv2d(*a, scheme=scheme, sparsity=0.6, generator=g),
                  lambda i, o: SparseLinear(i, o, scheme=lin_scheme, sparsity=0.6, generator=g))
    # the masked dense twin: same weights, masks applied as fixed multipliers
    dense = _cnn(nn.Conv2d, nn.Linear)
    masks = []
    for s, d in zip(sparse, dense):
        if hasattr(s, "sw"):
            d.weight.data.copy_(s.dense_weight())
            d.bias.data.copy_(s.bias.data)
            masks.append((d, s.sw.mask()))
    x = torch.randn(64, 1, 8, 8)
    target = (x.flatten(1) @ torch.randn(64, 10)).argmax(1)  # learnable labels
    losses = {}
    for name, model in (("sparse", sparse), ("dense", dense)):
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        hist = []
        for _ in range(25):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), target)
            loss.backward()
            if name == "dense":
                for d, m in masks:
                    d.weight.grad.mul_(m)
            opt.step()
            hist.append(float(loss.detach()))
        losses[name] = hist
    assert losses["sparse"][-1] < 0.85 * losses["sparse"][0], losses["sparse"]
    # same trajectory within float32 noise amplified over 25 steps
    for a, b in zip(losses["sparse"], losses["dense"]):
        assert abs(a - b) <= 1e-3 * max(1.0, abs(b))


def test_bad_inputs():
    if not SCHEMES:
        pytest.skip("no scheme built")
    layer = SparseConv2d(4, 4, 3, padding=1, scheme=SCHEMES[0], sparsity=0.5)
    with pytest.raises(TypeError, match="float32"):
        layer(torch.randn(1, 4, 5, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="4 channels"):
        layer(torch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        SparseConv2d(4, 4, 3, scheme=SCHEMES[0], mask=torch.ones(4, 4, 2, 2, dtype=torch.bool))
