"""Statistical properties of the counter-based RNG and of stochastic pruning (unbiasedness)."""

import numpy as np
import pytest
import torch

from sparsebench.methods.actgrad import kernels as agk
from sparsebench import kernels, rng
from sparsebench.methods.actgrad import reference as actgrad


def test_python_rng_matches_kernel_draws_at_chunk_boundaries():
    # indices straddling 2**32 use another chunk key: compare against a direct per-index formula
    idx = np.array([0, 1, 2**32 - 1, 2**32, 2**32 + 5, 2**64 - 1], dtype=np.uint64)
    h = rng.hash32(99, idx)
    for i, hv in zip(idx.tolist(), h.tolist()):
        mask = (1 << 64) - 1
        z = (99 ^ (((i >> 32) * 0xD1B54A32D192ED03) & mask)) & mask
        z = (z + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        key = z ^ (z >> 31)
        x = (((i & 0xFFFFFFFF) ^ (key & 0xFFFFFFFF)) * 0x9E3779B1) & 0xFFFFFFFF
        x ^= key >> 32
        x ^= x >> 16
        x = (x * 0x85EBCA6B) & 0xFFFFFFFF
        x ^= x >> 13
        x = (x * 0xC2B2AE35) & 0xFFFFFFFF
        x ^= x >> 16
        assert hv == x


def test_uniforms_are_uniform():
    u = rng.uniform(2024, 1_000_000).astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    n = u.size
    # mean and variance of U(0,1) within 5 standard errors
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    # chi-square over 64 bins; 5-sigma bound for 63 degrees of freedom
    counts = np.bincount((u * 64).astype(int), minlength=64)
    chi2 = ((counts - n / 64) ** 2 / (n / 64)).sum()
    assert chi2 < 63 + 5 * np.sqrt(2 * 63)
    # neighbouring draws are uncorrelated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(n)


def test_different_seeds_give_independent_streams():
    a, b = rng.uniform(1, 200_000), rng.uniform(2, 200_000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(a.size)


@pytest.mark.parametrize("isa", kernels.usable_isas())
def test_stochastic_pruning_is_unbiased(isa):
    # E[g'] = g elementwise: average many seeds and compare with g within 5 standard errors.
    g = torch.randn(2000)
    tau = agk.dbtd_threshold(g, 0.9, isa=isa)
    seeds = 400
    acc = torch.zeros_like(g, dtype=torch.float64)
    for s in range(seeds):
        out, _ = agk.stochastic_prune(g, tau, s, isa=isa)
        acc += out.double()
    mean = acc / seeds
    a = g.abs().double()
    # per-element variance of the pruned value: tau*|g| - g^2 below tau, 0 above
    var = torch.where(a < tau, tau * a - a * a, torch.zeros_like(a))
    z = (mean - g.double()) / torch.sqrt(var / seeds).clamp_min(1e-12)
    below = a < tau
    assert torch.all(mean[~below] == g.double()[~below])  # values above tau are kept exactly
    assert float(z[below].abs().max()) < 5.5
    assert abs(float(z[below].mean())) < 5 / np.sqrt(int(below.sum()))


def test_threshold_prunes_fraction_p_of_a_normal():
    g = torch.randn(1_000_000, generator=torch.Generator().manual_seed(0))
    for p in (0.5, 0.9, 0.99):
        tau = actgrad.dbtd_threshold(g, p)
        below = float((g.abs() < tau).double().mean())
        assert abs(below - p) < 0.005, (p, below)


def test_same_seed_same_result_any_isa_any_threads():
    g = torch.randn(100_003)
    tau = agk.dbtd_threshold(g, 0.9)
    outs = [agk.stochastic_prune(g, tau, 77, isa=i, threads=t)[0] for i in kernels.usable_isas() for t in (1, 2)]
    for o in outs[1:]:
        assert torch.equal(o, outs[0])
    other = agk.stochastic_prune(g, tau, 78)[0]
    assert not torch.equal(other, outs[0])
