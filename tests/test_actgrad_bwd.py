"""Activation-gradient pruning backward path: front-end statistics, determinism, input
validation, and training integration (tests/test_crossval.py covers kernel-vs-reference)."""

import math
import statistics

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.grad import conv2d_input, conv2d_weight

from sparsebench.methods.actgrad import kernels as agk
from sparsebench import _kernels, kernels
from sparsebench.methods import actgrad as ag
from sparsebench.methods.actgrad import ops as ref  # references and the dict-valued prune_compress_reference


def _expected_density(p: float) -> float:
    """E[nonzero fraction] of DBTD + stochastic pruning for g ~ N(0, 1)."""
    z = statistics.NormalDist().inv_cdf((1 + p) / 2)
    phi = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    return (1 - (2 * statistics.NormalDist().cdf(z) - 1)) + 2 * (phi(0) - phi(z)) / z


# --- front-end -------------------------------------------------------------------------------


def test_unbiased_mean_over_seeds():
    g = torch.randn(4, 8, 6, 6, generator=torch.Generator().manual_seed(0))
    tau = agk.dbtd_threshold(g, 0.9)
    seeds = 600
    acc = torch.zeros_like(g, dtype=torch.float64)
    for s in range(seeds):
        acc += ag.prune_compress(g, tau, s).to_dense().double()
    mean = acc / seeds
    a = g.double().abs()
    var = torch.where(a >= tau, torch.zeros_like(a), tau * a - a * a)  # per-element variance
    se = torch.sqrt(var / seeds)
    zscore = ((mean - g.double()) / se.clamp_min(1e-12))[se > 0]
    assert torch.all((mean - g.double())[se == 0] == 0)  # kept entries are exact
    assert zscore.abs().max() < 5.5  # ~1150 elements: max |z| beyond 5.5 has p < 1e-4
    assert abs(float((zscore**2).mean()) - 1.0) < 0.15  # chi^2 / n around 1


@pytest.mark.parametrize("p", [0.5, 0.9, 0.99])
def test_sparsity_reached_vs_p(p):
    g = torch.randn(32, 64, 16, 16, generator=torch.Generator().manual_seed(1))
    sg = ag.prune(g, p, 3)
    want = _expected_density(p)
    # stochastic promotion keeps far more than 1 - p: roughly 0.70 / 0.46 / 0.31 nonzero
    assert abs(sg.density - want) < 0.01, (sg.density, want)
    assert sg.density > 1 - p
    assert sg.nnz == int(np.asarray(sg.rowptr)[-1]) == len(sg.values)


@pytest.mark.parametrize("shape", [(5, 7, 9, 11), (3, 1000), (70001,), (2, 3, 64, 64)])
def test_identical_on_every_isa_and_thread_count(shape):
    g = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    tau = ref.dbtd_threshold(g, 0.9)
    want = ref.prune_compress_reference(g, tau, 77)
    for isa in kernels.usable_isas():
        for threads in (1, 2, 3, 7):
            got = ag.prune_compress(g, tau, 77, isa=isa, threads=threads)
            for k in ("bits", "values", "rowptr"):
                assert np.array_equal(np.asarray(getattr(got, k)), want[k]), (isa, threads, k)


def test_front_end_matches_dense_pruning():
    g = torch.randn(4, 6, 5, 5)
    sg = ag.prune(g, 0.9, 5)
    dense, nnz = agk.stochastic_prune(g, sg.tau, 5)
    assert torch.equal(sg.to_dense(), dense) and sg.nnz == nnz


# --- input validation --------------------------------------------------------------------------


def _conv_inputs():
    x, w = torch.randn(2, 3, 6, 6), torch.randn(4, 3, 3, 3)
    sg = ag.prune(torch.randn(2, 4, 6, 6), 0.5, 1)
    return x, w, sg


def test_front_end_bad_inputs():
    with pytest.raises(TypeError, match="g must have dtype float32"):
        ag.prune_compress(torch.zeros(3, 4, dtype=torch.float64), 1.0, 0)
    with pytest.raises(ValueError, match="contiguous"):
        ag.prune_compress(torch.zeros(4, 3).T, 1.0, 0)
    with pytest.raises(ValueError, match="tau"):
        ag.prune_compress(torch.zeros(3, 4), -1.0, 0)
    with pytest.raises(ValueError, match="tau"):
        ag.prune_compress(torch.zeros(3, 4), float("nan"), 0)
    with pytest.raises(TypeError, match="seed"):
        ag.prune_compress(torch.zeros(3, 4), 1.0, 1.5)
    with pytest.raises(ValueError, match="seed"):
        ag.prune_compress(torch.zeros(3, 4), 1.0, -1)
    with pytest.raises(ValueError, match="p must be in"):
        ag.prune(torch.zeros(3, 4), 1.0, 0)


def test_backward_bad_format():
    x, w, sg = _conv_inputs()
    b, v, r = np.asarray(sg.bits), np.asarray(sg.values), np.asarray(sg.rowptr)
    args = lambda bits=b, vals=v, rp=r, shape=sg.shape: (w, bits, vals, rp, shape, (6, 6), 1, 1)  # noqa: E731
    K = _kernels.conv2d_backward_data
    with pytest.raises(TypeError, match="bits must have dtype uint64"):
        K(*args(bits=b.astype(np.int64)))
    with pytest.raises(ValueError, match="bits must have shape"):
        K(*args(bits=b[:-1]))
    with pytest.raises(ValueError, match="rowptr must have shape"):
        K(*args(rp=r[:-1]))
    with pytest.raises(ValueError, match=r"rowptr\[-1\]"):
        K(*args(vals=v[:-1]))
    bad = r.copy()
    bad[1], bad[2] = bad[2], bad[1]
    with pytest.raises(ValueError, match="non-decreasing|set bits"):
        K(*args(rp=bad))
    bb = b.copy()
    bb[0, 0] ^= np.uint64(1 << 40)  # beyond column 35 of a 6x6 plane
    with pytest.raises(ValueError, match="past column"):
        K(*args(bits=bb))
    bb = b.copy()
    bb[0, 0] ^= np.uint64(1)
    with pytest.raises(ValueError, match="set bits but rowptr"):
        K(*args(bits=bb))
    with pytest.raises(TypeError, match="values must have dtype float32"):
        K(*args(vals=v.astype(np.float64)))


def test_backward_bad_geometry():
    x, w, sg = _conv_inputs()
    with pytest.raises(ValueError, match="weight.shape\\[0\\]"):
        ag.conv2d_backward_data(torch.randn(5, 3, 3, 3), sg, (6, 6), 1, 1)
    with pytest.raises(ValueError, match="does not match the conv output"):
        ag.conv2d_backward_data(w, sg, (6, 6), 2, 1)
    with pytest.raises(ValueError, match="does not match the conv output"):
        ag.conv2d_weight_grad(x, sg, (3, 3), 1, 0)
    with pytest.raises(ValueError, match="input.shape\\[0\\]"):
        ag.conv2d_weight_grad(torch.randn(3, 3, 6, 6), sg, (3, 3), 1, 1)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        ag.conv2d_weight_grad(x, sg, (3, 3), 0, 1)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        ag.conv2d_weight_grad(x, sg, (3, 3), 1, -1)
    with pytest.raises(ValueError, match="weight must be 4-D"):
        ag.conv2d_backward_data(torch.randn(4, 27), sg, (6, 6), 1, 1)
    with pytest.raises(ValueError, match="contiguous"):
        ag.conv2d_weight_grad(x.transpose(2, 3), sg, (3, 3), 1, 1)
    with pytest.raises(TypeError, match="SparseGrad"):
        ag.conv2d_weight_grad(x, sg.to_dense(), (3, 3), 1, 1)
    with pytest.raises(ValueError, match="2-D gradient"):
        ag.linear_weight_grad(torch.randn(2, 3), sg)


# --- training integration ------------------------------------------------------------------------


def test_pruned_conv2d_matches_autograd_with_same_dO():
    torch.manual_seed(0)
    layer = ag.PrunedConv2d(5, 7, 3, stride=2, padding=1, p=0.9, seed=4)
    x = torch.randn(3, 5, 9, 9, requires_grad=True)
    y = layer(x)
    (y * torch.randn_like(y)).sum().backward()
    sg = layer.last_grad
    assert sg is not None and sg.shape == tuple(y.shape)
    d = sg.to_dense()
    tol = dict(rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(x.grad, conv2d_input(x.shape, layer.weight.detach(), d, 2, 1), **tol)
    torch.testing.assert_close(layer.weight.grad, conv2d_weight(x.detach(), layer.weight.shape, d, 2, 1), **tol)
    torch.testing.assert_close(layer.bias.grad, d.sum((0, 2, 3)), **tol)


class _TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.c2(x))
        x = torch.relu(self.c3(x))
        return self.fc(x.mean((2, 3)))


def test_tiny_cnn_gradients_equal_autograd_given_pruned_dO():
    torch.manual_seed(1)
    model = ag.apply_actgrad_pruning(_TinyCNN(), p=0.9, seed=3, linear=True)
    convs = [m for m in model.modules() if isinstance(m, ag.PrunedConv2d)]
    assert len(convs) == 3 and isinstance(model.fc, ag.PrunedLinear)
    inputs = {}
    for m in convs + [model.fc]:
        m.register_forward_hook(lambda mod, inp, out: inputs.__setitem__(mod, inp[0].detach()))
    x, t = torch.randn(4, 3, 8, 8), torch.randint(0, 4, (4,))
    nn.functional.cross_entropy(model(x), t).backward()
    for m in convs:
        d = m.last_grad.to_dense()
        want = conv2d_weight(inputs[m], m.weight.shape, d, m.stride, m.padding)
        torch.testing.assert_close(m.weight.grad, want, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(m.bias.grad, d.sum((0, 2, 3)), rtol=1e-4, atol=1e-5)
        assert 0.0 < m.last_grad.density < 1.0
    d = model.fc.last_grad.to_dense()
    torch.testing.assert_close(model.fc.weight.grad, d.T @ inputs[model.fc], rtol=1e-4, atol=1e-5)


def test_sgd_steps_reduce_loss():
    torch.manual_seed(2)
    model = ag.apply_actgrad_pruning(_TinyCNN(), p=0.9, seed=5)
    x, t = torch.randn(16, 3, 8, 8), torch.randint(0, 4, (16,))
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0], losses
    assert sum(b < a for a, b in zip(losses, losses[1:])) >= 15
    seeds = {m.step for m in model.modules() if isinstance(m, ag.PrunedConv2d)}
    assert seeds == {25}


def test_pruned_conv2d_rejects_unsupported():
    with pytest.raises(ValueError, match="groups=1"):
        ag.PrunedConv2d(4, 4, 3, groups=2)
    model = nn.Sequential(nn.Conv2d(4, 4, 3, groups=2), nn.Conv2d(4, 4, 3))
    ag.apply_actgrad_pruning(model, 0.5)
    assert type(model[0]) is nn.Conv2d and isinstance(model[1], ag.PrunedConv2d)
