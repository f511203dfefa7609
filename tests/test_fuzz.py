"""Property-based fuzzing (hypothesis) of the public entries: SparseConv2d / SparseLinear of every
format (construction, forward, backward), the actgrad front end (prune / compress) and its
sparse-dO backward kernels. Random dtypes, shapes including 0 and 1, non-contiguous and
overlapping (expanded) views, NaN and Inf, rates out of range. Every example either matches the
reference or raises TypeError / ValueError; a crash fails the run, a hang its timeout.

Budget: SPARSEBENCH_FUZZ_EXAMPLES examples per property (default 25, derandomized: the same
examples every run, as CI needs). A longer local run:
    SPARSEBENCH_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py -q
"""

from __future__ import annotations

import math
import os

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparsebench.formats import available_formats, get_format
from sparsebench.formats.modules import SparseConv2d, SparseLinear
from sparsebench.methods.actgrad import kernels as agk
from sparsebench.methods.actgrad import reference as ref

EXAMPLES = int(os.environ.get("SPARSEBENCH_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EXPECTED = (TypeError, ValueError)
COUNTS: dict[str, int] = {}  # examples run per entry (printed at the end with -s)

dims = st.integers(0, 9)
sparsities = st.one_of(st.sampled_from([0.0, 0.5, 0.9, 1.0, -0.1, 1.5, math.nan]), st.floats(0, 1))
dtypes = st.sampled_from([torch.float32, torch.float32, torch.float32, torch.float64, torch.float16, torch.int32])
layouts = st.sampled_from(["contiguous", "contiguous", "transposed", "expanded", "sliced"])
fills = st.sampled_from(["normal", "normal", "zeros", "nan", "inf"])


def _tensor(shape, dtype, layout, fill, gen) -> torch.Tensor:
    if layout == "expanded" and len(shape) >= 2 and shape[0] > 0:
        base = _tensor((1, *shape[1:]), dtype, "contiguous", fill, gen)
        return base.expand(*shape)  # overlapping memory: stride 0 on dim 0
    if layout == "sliced":
        full = _tensor((*shape[:-1], 2 * shape[-1]), dtype, "contiguous", fill, gen) if shape else None
        return full[..., ::2] if full is not None else torch.zeros(())
    if layout == "transposed" and len(shape) >= 2:
        t = _tensor((shape[1], shape[0], *shape[2:]), dtype, "contiguous", fill, gen)
        return t.transpose(0, 1)
    x = torch.randn(shape, generator=gen)
    if fill == "zeros":
        x.zero_()
    elif fill in ("nan", "inf") and x.numel():
        x.view(-1)[x.numel() // 2] = math.nan if fill == "nan" else math.inf
    return x.to(dtype)


def _count(entry: str) -> None:
    COUNTS[entry] = COUNTS.get(entry, 0) + 1


def _close(got: torch.Tensor, want: torch.Tensor, length: int) -> None:
    tol = 1e-5 * max(length, 1) ** 0.5 * 10
    scale = max(float(want.abs().nan_to_num(0, 0, 0).max()) if want.numel() else 1.0, 1.0)
    torch.testing.assert_close(got, want, rtol=tol, atol=tol * scale, equal_nan=True)


def _valid_input(x: torch.Tensor) -> bool:
    return x.dtype == torch.float32


@FUZZ
@given(scheme=st.sampled_from(available_formats()), n=dims, cin=st.integers(0, 6), cout=st.integers(0, 6),
       hw=st.integers(1, 7), k=st.sampled_from([1, 3, 5]), stride=st.integers(1, 3), padding=st.integers(0, 2),
       sparsity=sparsities, dtype=dtypes, layout=layouts, fill=fills, seed=st.integers(0, 2**16))
def test_sparse_conv2d_matches_masked_dense_or_refuses(scheme, n, cin, cout, hw, k, stride, padding, sparsity, dtype,
                                                       layout, fill, seed):
    _count(f"SparseConv2d[{scheme}]")
    gen = torch.Generator().manual_seed(seed)
    try:
        layer = SparseConv2d(cin, cout, k, stride, padding, scheme=scheme, sparsity=sparsity)
    except EXPECTED:
        return
    assert 0.0 <= layer.sparsity <= 1.0
    x = _tensor((n, cin, hw, hw), dtype, layout, fill, gen).requires_grad_(dtype.is_floating_point)
    w = layer.dense_weight().detach()
    try:
        y = layer(x)
    except EXPECTED:
        assert not _valid_input(x) or hw + 2 * padding < k  # refused only for a reason
        return
    assert _valid_input(x)
    xd = x.detach().clone().requires_grad_(True)
    wd = w.clone().requires_grad_(True)
    want = F.conv2d(xd, wd, layer.bias if getattr(layer, "bias", None) is not None else None, stride, padding)
    _close(y.detach(), want.detach(), cin * k * k)
    if y.numel():
        dy = torch.randn(y.shape, generator=gen)
        y.backward(dy)
        want.backward(dy)
        _close(x.grad, xd.grad, cout * k * k)
        mask = layer.sw.mask()
        _close(layer.sw.values_from_dense(wd.grad * mask), layer.values.grad, n * hw * hw)


@FUZZ
@given(scheme=st.sampled_from(available_formats()), b=dims, fin=st.integers(0, 12), fout=st.integers(0, 12),
       sparsity=sparsities, dtype=dtypes, layout=layouts, fill=fills, seed=st.integers(0, 2**16))
def test_sparse_linear_matches_masked_dense_or_refuses(scheme, b, fin, fout, sparsity, dtype, layout, fill, seed):
    _count(f"SparseLinear[{scheme}]")
    gen = torch.Generator().manual_seed(seed)
    try:
        layer = SparseLinear(fin, fout, scheme=scheme, sparsity=sparsity)
    except EXPECTED:
        return
    x = _tensor((b, fin), dtype, layout, fill, gen).requires_grad_(dtype.is_floating_point)
    try:
        y = layer(x)
    except EXPECTED:
        assert not _valid_input(x)
        return
    xd = x.detach().clone().requires_grad_(True)
    wd = layer.dense_weight().detach().clone().requires_grad_(True)
    want = F.linear(xd, wd, layer.bias)
    _close(y.detach(), want.detach(), fin)
    if y.numel():
        dy = torch.randn(y.shape, generator=gen)
        y.backward(dy)
        want.backward(dy)
        _close(x.grad, xd.grad, fout)


@FUZZ
@given(shape=st.lists(st.integers(0, 9), min_size=1, max_size=4), p=sparsities, dtype=dtypes, layout=layouts,
       fill=fills, seed=st.integers(0, 2**64 - 1))
def test_actgrad_prune_matches_the_reference_or_refuses(shape, p, dtype, layout, fill, seed):
    _count("actgrad.prune")
    gen = torch.Generator().manual_seed(seed % 2**63)
    g = _tensor(tuple(shape), dtype, layout, fill, gen)
    try:
        got = agk.prune(g, p, seed)
    except EXPECTED:
        assert not (g.dtype == torch.float32 and g.is_contiguous() and 0 <= p < 1) or fill in ("nan", "inf")
        return
    assert g.dtype == torch.float32 and 0 <= p < 1
    want, _ = ref.stochastic_prune(g, ref.dbtd_threshold(g, p), seed)
    torch.testing.assert_close(got.to_dense().reshape(want.shape), want, rtol=0, atol=0, equal_nan=True)
    assert 0.0 <= got.density <= 1.0


@FUZZ
@given(shape=st.lists(st.integers(0, 9), min_size=1, max_size=3), kfrac=st.floats(-0.2, 1.2), dtype=dtypes,
       layout=layouts, fill=fills, seed=st.integers(0, 2**16))
def test_swat_topk_matches_the_sort_reference_or_refuses(shape, kfrac, dtype, layout, fill, seed):
    from sparsebench.methods.swat import kernels as swk
    from sparsebench.methods.swat import reference as swref

    _count("swat.topk_mask")
    g = _tensor(tuple(shape), dtype, layout, fill, torch.Generator().manual_seed(seed))
    k = int(round(kfrac * g.numel()))
    try:
        got = swk.topk_mask(g, k)
    except EXPECTED:
        assert not (g.dtype == torch.float32 and g.is_contiguous() and 0 < k <= g.numel()) or fill == "nan"
        return
    assert torch.equal(got, swref.topk_mask(g, k)) and int(got.sum()) == k


@FUZZ
@given(n=st.integers(0, 70), mode=st.sampled_from(["max", "std", "median", 3]), dtype=dtypes, layout=layouts,
       fill=fills, seed=st.integers(0, 2**64 - 1))
def test_terngrad_encode_matches_the_reference_or_refuses(n, mode, dtype, layout, fill, seed):
    from sparsebench.methods.terngrad import kernels as tgk
    from sparsebench.methods.terngrad import reference as tgref

    _count("terngrad.encode")
    g = _tensor((3 * n,), dtype, layout, fill, torch.Generator().manual_seed(seed % 2**63))
    try:
        packed, s = tgk.encode(g, seed, mode)
    except EXPECTED:
        assert not (g.dtype == torch.float32 and g.is_contiguous() and g.dim() == 1 and mode in ("max", "std")
                    and fill not in ("nan", "inf"))
        return
    assert s == tgref.scaler(g, mode)
    assert torch.equal(packed, tgref.ternarize_pack(g, s, seed))
    back = tgk.decode(packed, g.numel(), s)
    assert torch.equal(back, tgref.decode(packed, g.numel(), s))


@FUZZ
@given(scheme=st.sampled_from(available_formats()), fraction=st.one_of(st.floats(-0.5, 1.5), st.just(math.nan)),
       sparsity=st.sampled_from([0.6, 0.9, 0.99]), seed=st.integers(0, 2**16))
def test_prune_grow_keeps_the_density_and_the_masked_dense_twin_or_refuses(scheme, fraction, sparsity, seed):
    _count(f"prune_grow[{scheme}]")
    layer = SparseConv2d(8, 8, 3, 1, 1, scheme=scheme, sparsity=sparsity, generator=torch.Generator().manual_seed(seed))
    before = layer.sw.density
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    layer(torch.randn(2, 8, 5, 5)).sum().backward()
    opt.step()
    dense_before = layer.dense_weight().detach().clone()
    mask_before = layer.sw.mask().clone()
    try:
        layer.prune_grow(fraction, optimizer=opt, generator=torch.Generator().manual_seed(seed))
    except EXPECTED:
        assert not 0 <= fraction <= 1
        # nothing changed: no partial mask update left behind
        assert torch.equal(layer.sw.mask(), mask_before) and torch.equal(layer.dense_weight(), dense_before)
        return
    assert 0 <= fraction <= 1
    assert abs(layer.sw.density - before) < 1e-6
    kept = layer.sw.mask() & mask_before  # survivors keep their values, grown weights start at zero
    assert torch.equal(layer.dense_weight()[kept], dense_before[kept])
    assert not layer.dense_weight()[layer.sw.mask() & ~mask_before].any()
    x = torch.randn(1, 8, 5, 5)
    _close(layer(x).detach(), F.conv2d(x, layer.dense_weight(), layer.bias, 1, 1), 72)


@FUZZ
@given(shape=st.sampled_from([(6, 4, 3, 3), (5, 3, 1, 1), (0, 3, 3, 3), (7, 9), (1, 1, 5, 5)]),
       lams=st.lists(st.one_of(st.floats(0, 0.5), st.sampled_from([-0.1, math.nan, math.inf])), min_size=4, max_size=4),
       lr=st.one_of(st.floats(0, 1), st.just(-1.0)), dtype=dtypes, layout=layouts, fill=fills, seed=st.integers(0, 2**16))
def test_ssl_prox_matches_the_reference_or_refuses(shape, lams, lr, dtype, layout, fill, seed):
    from sparsebench.methods.ssl import kernels as sslk
    from sparsebench.methods.ssl import reference as sslref

    _count("ssl.prox_")
    w = _tensor(shape, dtype, layout, fill, torch.Generator().manual_seed(seed))
    before = w.clone()
    try:
        got = sslk.prox_(w, lr, *lams)
    except EXPECTED:
        assert torch.equal(w, before) or w.isnan().any()  # refused: the weight is left as it was
        return
    assert all(math.isfinite(v) and v >= 0 for v in lams) and w.dtype == torch.float32
    want = sslref.prox(before, lr, *lams)
    _close(got, want, max(w.numel(), 1))


def test_huge_overlapping_views_are_refused_not_copied():
    # 2**31 logical floats (8 GiB) over 4 bytes of memory: a copy would exhaust the machine
    huge = torch.zeros(1).expand(2**31)
    with pytest.raises(ValueError, match="contiguous"):
        agk.prune(huge, 0.9, 1)
    layer = SparseLinear(8, 4, scheme="unstructured", sparsity=0.5)
    with pytest.raises(ValueError, match="input"):
        layer(torch.zeros(1, 8).expand(2**30, 8))  # 32 GiB logical


def teardown_module(module):
    print("\nfuzzed examples per entry:", ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())))
