"""Mutable masks (issue 12, item 2): SparseWeight.positions() / mask_object(), Format.prune_grow,
formats.mutate.remap / rebuild, and SparseConv2d / SparseLinear.update_mask / prune_grow.

Done when: on every scheme, a SparseConv2d and a SparseLinear trained for 20 steps with
torch.optim.SGD(momentum=0.9), with a mask change (prune 10% of kept units, grow as many) every
5 steps, follow the loss trajectory of a masked dense twin that applies the same mask changes,
within float32 noise (test_training_with_mask_changes_follows_masked_dense_twin).
All RNGs are seeded.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from sparsebench.formats import available_formats, get_format
from sparsebench.formats.common import free_unit_ids, prune_grow_units, sample_ranks
from sparsebench.formats.modules import SparseConv2d, SparseLinear
from sparsebench.formats.mutate import rebuild, remap
from sparsebench.formats.unstructured.masks import ElementMask
from sparsebench.registry import Comparison, assert_agree

SCHEMES = available_formats()
LINEAR_SCHEMES = [s for s in SCHEMES if get_format(s).linear]  # pattern holds conv weights only

# (name, in, out, kernel, stride, padding); None kernel = SparseLinear
LAYERS = [("conv3x3_s2", 8, 16, 3, 2, 1), ("conv1x1", 16, 32, 1, 1, 0), ("linear", 40, 32, None, 1, 0)]


def _layer(scheme, cin, cout, k, stride, pad, sparsity, seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    if k is None:
        return SparseLinear(cin, cout, scheme=scheme, sparsity=sparsity, generator=g, **kw)
    return SparseConv2d(cin, cout, k, stride, pad, scheme=scheme, sparsity=sparsity, generator=g, **kw)


def _accepts(scheme, cin, cout, k):
    shape = (cout, cin) if k is None else (cout, cin, k, k)
    return get_format(scheme).accepts(shape)


def _sparsity(scheme):
    return 0.75 if scheme == "pattern" else 0.5  # pattern: >= 5/9


# --- units, per format (the test's own dense description, to check the format against) ----------


def _unit_of_dense(scheme, sw) -> tuple[torch.Tensor, int]:
    """(int64 unit id of every dense position (flat), number of units) for ``sw``'s format."""
    shape = tuple(sw.shape)
    co, ci = shape[0], shape[1]
    t = 1 if len(shape) == 2 else shape[2] * shape[3]
    o = torch.arange(co)[:, None, None].expand(co, ci, t)
    i = torch.arange(ci)[None, :, None].expand(co, ci, t)
    tap = torch.arange(t)[None, None, :].expand(co, ci, t)
    if scheme == "unstructured":
        return torch.arange(co * ci * t), co * ci * t
    if scheme == "block":
        bo, bi = sw.block
        ncb = -(-ci // bi)
        ncols = t * ncb
        return ((o // bo) * ncols + tap * ncb + i // bi).reshape(-1), -(-co // bo) * ncols
    if scheme == "pattern":
        return (o * ci + i).reshape(-1), co * ci
    if scheme == "filter":
        return o.reshape(-1), co
    raise AssertionError(scheme)


def _kept_units(scheme, sw) -> torch.Tensor:
    """bool per unit: whether the unit is kept (from the format's Mask object)."""
    m = sw.mask_object()
    if scheme == "filter":
        keep = torch.zeros(sw.shape[0], dtype=torch.bool)
        keep[m.out_idx] = True
        return keep
    return m.keep.reshape(-1).clone()


def _unit_sums(scheme, sw, dense_scores) -> torch.Tensor:
    """float64 sum of dense_scores over each unit's kept positions."""
    unit, n = _unit_of_dense(scheme, sw)
    s = torch.where(sw.mask().reshape(-1), dense_scores.reshape(-1).double(), 0.0)
    return torch.zeros(n, dtype=torch.float64).index_add_(0, unit, s)


def _expected_pruned(scheme, sw, fraction, dense_scores=None) -> set[int]:
    kept = _kept_units(scheme, sw)
    ids = torch.nonzero(kept).flatten()
    sc = _unit_sums(scheme, sw, sw.to_dense() ** 2 if dense_scores is None else dense_scores)[ids]
    k = int(round(fraction * ids.numel()))
    return set(ids[torch.argsort(sc, stable=True)[:k]].tolist())


# --- the Done-when: training with mask changes == masked dense twin --------------------------------


@pytest.mark.parametrize("layer_kind", LAYERS, ids=[l[0] for l in LAYERS])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_training_with_mask_changes_follows_masked_dense_twin(scheme, layer_kind):
    name, cin, cout, k, stride, pad = layer_kind
    if not _accepts(scheme, cin, cout, k):
        # pattern holds 3x3 conv weights only (FORMAT.linear is False, kernel_sizes 3x3): its
        # SparseLinear / 1x1 cases are not defined; every format that holds them is tested.
        pytest.skip(f"{scheme} does not hold {name} weights")
    torch.manual_seed(0)
    layer = _layer(scheme, cin, cout, k, stride, pad, _sparsity(scheme), seed=1)
    with torch.no_grad():
        layer.bias.normal_(0, 0.1, generator=torch.Generator().manual_seed(2))
    xg = torch.Generator().manual_seed(3)
    x = torch.randn(4, cin, 9, 9, generator=xg) if k is not None else torch.randn(6, cin, generator=xg)
    W = torch.nn.Parameter(layer.dense_weight().clone())
    b = torch.nn.Parameter(layer.bias.detach().clone())
    mask = layer.sw.mask()

    def twin(xx):
        w = W * mask
        return F.linear(xx, w, b) if k is None else F.conv2d(xx, w, b, stride=stride, padding=pad)

    with torch.no_grad():
        target = torch.randn(layer(x).shape, generator=xg)
    lr = 0.05
    opt = torch.optim.SGD([layer.values, layer.bias], lr=lr, momentum=0.9)
    opt_twin = torch.optim.SGD([W, b], lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(4)
    losses, losses_twin, moved = [], [], 0
    for step in range(1, 21):
        for model, o, hist in ((layer, opt, losses), (twin, opt_twin, losses_twin)):
            o.zero_grad()
            loss = F.mse_loss(model(x), target)
            loss.backward()
            o.step()
            hist.append(float(loss.detach()))
        if step % 5 == 0 and step < 20:
            kept_before = int(_kept_units(scheme, layer.sw).sum())
            res = layer.prune_grow(0.1, optimizer=opt, generator=gen)
            assert int(_kept_units(scheme, layer.sw).sum()) == kept_before
            moved += res["grown"]
            assert res["pruned"] > 0 and res["grown"] > 0, res
            assert opt.param_groups[0]["params"][0] is layer.values
            mask = layer.sw.mask()
            with torch.no_grad():  # the twin's same mask change: pruned dropped, grown start at 0 / 0
                W.mul_(mask)
                opt_twin.state[W]["momentum_buffer"].mul_(mask)
    assert moved > 0
    # Tolerance: sparse and dense differ only by float32 reordering of the reduction sums (forward
    # over Cin*k*k, weight gradient over N*Ho*Wo, the loss mean over the outputs), independent
    # roundings each step that add up over the 20 steps like a random walk (lr 0.05 keeps the
    # momentum-SGD map contracting, so they are not amplified): float32_reduction of the longest
    # reduction times 20 steps. A remap error (a survivor's momentum or value lost) moves the loss
    # by ~lr * |grad| ~ 1e-3, far outside.
    with torch.no_grad():
        y = twin(x)
    red = max(cin * (k or 1) ** 2, x.shape[0] * (y[0, 0].numel() if k is not None else 1), y.numel())
    tol = Comparison.float32_reduction(red * 20, why="float32 reductions reordered, accumulated over 20 steps")
    assert_agree(torch.tensor(losses), torch.tensor(losses_twin), tol, f"{scheme} {name} losses")
    assert_agree(layer.dense_weight(), (W * mask).detach(), tol, f"{scheme} {name} final dense weight")
    assert losses[-1] < losses[0]


# --- positions() / mask_object() ------------------------------------------------------------------

SHAPES = [(12, 6, 3, 3), (10, 7, 1, 1), (9, 13)]  # odd sizes: partial blocks at the edges


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("scheme", SCHEMES)
def test_positions_and_mask_object_round_trip(scheme, shape):
    fmt = get_format(scheme)
    if not fmt.accepts(shape):
        pytest.skip(f"{scheme} does not hold {shape}")
    w = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    sw = fmt.from_mask(fmt.make_mask(w, _sparsity(scheme)), w)
    pos = sw.positions()
    assert pos.dtype == torch.int64 and pos.shape == sw.values.shape
    real = pos >= 0
    dense = sw.to_dense().reshape(-1)
    assert torch.equal(dense[pos[real]], sw.values[real])
    assert torch.equal(sw.values[~real], torch.zeros(int((~real).sum())))  # padding holds 0
    flat_mask = torch.nonzero(sw.mask().reshape(-1)).flatten()
    assert torch.equal(torch.sort(pos[real]).values, flat_mask)  # unique, exactly the mask
    mo = sw.mask_object()
    assert tuple(mo.shape) == tuple(shape)
    assert torch.equal(mo.dense(), sw.mask())
    assert abs(mo.sparsity - (1.0 - sw.density)) < 1e-12
    sw2 = fmt.from_mask(mo, None)  # zero values, same structure
    assert torch.equal(sw2.mask(), sw.mask()) and torch.equal(sw2.positions(), pos)
    assert not bool(sw2.values.any())


def test_remap_on_a_known_example():
    fmt = get_format("unstructured")
    old = fmt.from_mask(ElementMask((2, 3), torch.tensor([[1, 0, 1], [0, 1, 0]], dtype=torch.bool), 0.5),
                        torch.tensor([[1.0, 0, 2.0], [0, 3.0, 0]]))
    new_mask = ElementMask((2, 3), torch.tensor([[1, 0, 0], [1, 1, 0]], dtype=torch.bool), 0.5)
    new = fmt.from_mask(new_mask, None)
    assert old.positions().tolist() == [0, 2, 4] and new.positions().tolist() == [0, 3, 4]
    assert remap(old, new).tolist() == [0, -1, 2]
    sw, src = rebuild(fmt, old, new_mask, grown=torch.tensor([7.0]))
    assert src.tolist() == [0, -1, 2] and sw.values.tolist() == [1.0, 7.0, 3.0]
    assert old.values.tolist() == [1.0, 2.0, 3.0]  # untouched
    # block: padding slots (a 3x3 weight in 4x4 blocks) map to -1 and stay 0
    b = get_format("block")
    wb = torch.arange(1.0, 10.0).reshape(3, 3)
    sb = b.from_mask(b.make_mask(wb, 0.0), wb)
    src_b = remap(sb, sb)
    assert torch.equal(src_b >= 0, sb.positions() >= 0)
    assert torch.equal(src_b[src_b >= 0], torch.nonzero(sb.positions() >= 0).flatten())


def test_rebuild_allocates_nothing_weight_sized():
    """from_mask(mask, None) and the whole update path (prune_grow, rebuild, update_mask) allocate
    no tensor of the dense weight's float size on unstructured / block / pattern."""
    from torch.profiler import ProfilerActivity, profile

    shape = (128, 128, 3, 3)
    dense_bytes = 4 * math.prod(shape)
    for scheme in ("unstructured", "block", "pattern"):
        layer = SparseConv2d(128, 128, 3, padding=1, scheme=scheme, sparsity=0.95,
                             generator=torch.Generator().manual_seed(0))
        fmt = get_format(scheme)
        mo = layer.sw.mask_object()
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fmt.from_mask(mo, None)
            layer.prune_grow(0.2, generator=torch.Generator().manual_seed(1))
        biggest = max((e.self_cpu_memory_usage for e in prof.events()), default=0)
        assert biggest < dense_bytes // 2, (scheme, biggest, dense_bytes)


# --- Format.prune_grow --------------------------------------------------------------------------

PG_SHAPES = {"conv": (16, 8, 3, 3), "linear": (32, 40)}


def _pg_layer(scheme, kind, sparsity=None, seed=0):
    shape = PG_SHAPES[kind]
    if kind == "conv":
        return SparseConv2d(shape[1], shape[0], 3, padding=1, scheme=scheme,
                            sparsity=_sparsity(scheme) if sparsity is None else sparsity,
                            generator=torch.Generator().manual_seed(seed))
    return SparseLinear(shape[1], shape[0], scheme=scheme, sparsity=_sparsity(scheme) if sparsity is None else sparsity,
                        generator=torch.Generator().manual_seed(seed))


def _kinds(scheme):
    return ["conv", "linear"] if get_format(scheme).linear else ["conv"]


CASES = [(s, k) for s in SCHEMES for k in _kinds(s)]


@pytest.mark.parametrize("use_scores", [False, True], ids=["sumsq", "scores"])
@pytest.mark.parametrize("scheme,kind", CASES)
def test_prune_grow_moves_the_expected_units(scheme, kind, use_scores):
    fmt = get_format(scheme)
    layer = _pg_layer(scheme, kind)
    sw = layer.sw
    scores = torch.rand(sw.shape, generator=torch.Generator().manual_seed(5)) if use_scores else None
    kept0 = _kept_units(scheme, sw)
    f = 0.25
    k = int(round(f * int(kept0.sum())))
    assert k > 0
    expect_pruned = _expected_pruned(scheme, sw, f, scores)
    mask = fmt.prune_grow(sw, f, generator=torch.Generator().manual_seed(9), scores=scores)
    assert layer.sw is sw  # prune_grow only describes the new mask
    new_sw = fmt.from_mask(mask, None)
    kept1 = _kept_units(scheme, new_sw)
    assert int(kept1.sum()) == int(kept0.sum())  # same kept unit count
    pruned = set(torch.nonzero(kept0 & ~kept1).flatten().tolist())
    grown = set(torch.nonzero(kept1 & ~kept0).flatten().tolist())
    assert pruned == expect_pruned
    assert len(grown) == k and not grown & pruned  # grown among units not kept before: never a just-pruned one
    # same generator seed -> same mask; another seed -> (almost surely) other grown units
    again = fmt.prune_grow(sw, f, generator=torch.Generator().manual_seed(9), scores=scores)
    assert torch.equal(again.dense(), mask.dense())
    if scheme == "pattern":  # survivors keep their pattern, grown ones have a library pattern
        old_m = sw.mask_object()
        both = kept0.reshape(old_m.keep.shape) & mask.keep
        assert torch.equal(mask.pattern[both], old_m.pattern[both])
        assert bool((mask.pattern[mask.keep] < mask.library.shape[0]).all())


@pytest.mark.parametrize("scheme,kind", CASES)
def test_update_mask_keeps_survivors_and_initializes_grown(scheme, kind):
    fmt = get_format(scheme)
    layer = _pg_layer(scheme, kind)
    param = layer.values
    before = layer.dense_weight().clone()
    m0 = layer.sw.mask()
    mo = fmt.prune_grow(layer.sw, 0.25, generator=torch.Generator().manual_seed(2))
    res = layer.update_mask(mo)
    assert layer.values is param and layer.values.data_ptr() == layer.sw.values.data_ptr()
    m1 = layer.sw.mask()
    assert torch.equal(m1, mo.dense())
    after = layer.dense_weight()
    assert torch.equal(after[m0 & m1], before[m0 & m1])  # survivors exactly
    assert not bool(after[m1 & ~m0].any())  # grown start at 0
    assert res["kept"] == int(m1.sum()) and res["pruned"] == int((m0 & ~m1).sum())
    assert res["grown"] == int((m1 & ~m0).sum()) > 0
    assert abs(layer.sparsity - (1.0 - int(m1.sum()) / m1.numel())) < 1e-12
    # given values for the grown slots (storage order of the grown slots)
    mo2 = fmt.prune_grow(layer.sw, 0.25, generator=torch.Generator().manual_seed(3))
    n_grown = int((mo2.dense() & ~m1).sum())
    vals = torch.arange(1, n_grown + 1, dtype=torch.float32)
    prev = layer.dense_weight().clone()
    res2 = layer.update_mask(mo2, grown=vals)
    m2 = layer.sw.mask()
    got = layer.values.detach()[(res2["src"] < 0) & (layer.sw.positions() >= 0)]
    assert torch.equal(got, vals)
    assert torch.equal(layer.dense_weight()[m1 & m2], prev[m1 & m2])
    layer.update_mask(mo2, grown=0.5)  # same mask: nothing grows, nothing moves
    assert torch.equal(layer.sw.mask(), m2)
    # a dense bool mask works like the Mask object
    layer.update_mask(m0)
    assert torch.equal(layer.sw.mask(), m0)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_layer_built_from_a_mask_object(scheme):
    fmt = get_format(scheme)
    w = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(0))
    mo = fmt.make_mask(w, _sparsity(scheme))
    layer = SparseConv2d(8, 16, 3, padding=1, scheme=scheme, mask=mo, weight=w)
    assert torch.equal(layer.sw.mask(), mo.dense())
    assert torch.equal(layer.dense_weight(), w * mo.dense())
    other = fmt.make_mask(w.shape, _sparsity(scheme), by="random", generator=torch.Generator().manual_seed(1))
    layer.update_mask(other)
    assert torch.equal(layer.sw.mask(), other.dense())


def test_optimizer_state_and_own_sgd_state_are_remapped():
    layer = _pg_layer("unstructured", "conv")
    x = torch.randn(2, 8, 6, 6, generator=torch.Generator().manual_seed(0))
    for opt_cls, kw in ((torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}), (torch.optim.Adam, {"lr": 0.01})):
        opt = opt_cls([layer.values, layer.bias], **kw)
        for _ in range(2):
            opt.zero_grad()
            layer(x).square().mean().backward()
            opt.step()
        st = opt.state[layer.values]
        old = {key: v.clone() for key, v in st.items()}
        own = torch.randn(layer.values.shape, generator=torch.Generator().manual_seed(1))  # formats/sgd.py buffer
        old_pos = layer.sw.positions()
        res = layer.prune_grow(0.2, optimizer=opt, state=(own,), generator=torch.Generator().manual_seed(2))
        src = res["src"]
        assert layer.values.grad is None
        assert res["state"][0].shape == layer.values.shape
        surv = src >= 0
        assert torch.equal(layer.sw.positions()[surv], old_pos[src[surv]])
        for key, v in old.items():
            if v.ndim == 0:  # Adam's step counter: not per position, untouched
                assert torch.equal(st[key], v)
                continue
            assert st[key].shape == layer.values.shape
            assert torch.equal(st[key][surv], v[src[surv]]) and not bool(st[key][~surv].any())
        assert torch.equal(res["state"][0][surv], own[src[surv]]) and not bool(res["state"][0][~surv].any())
        opt.zero_grad()
        layer(x).square().mean().backward()
        opt.step()  # the optimizer keeps training the same parameter on the new mask
    # the project's own sparse SGD step runs on the remapped buffer
    buf = res["state"][0]
    buf0, v0 = buf.clone(), layer.values.detach().clone()
    g = torch.ones_like(v0)
    layer.sw.sgd_update(g, buf, lr=0.1, momentum=0.9, weight_decay=0.0)
    assert torch.allclose(buf, 0.9 * buf0 + g)
    assert torch.allclose(layer.values.detach(), v0 - 0.1 * (0.9 * buf0 + g))


# --- caches --------------------------------------------------------------------------------------


@pytest.mark.parametrize("k,stride,pad", [(3, 2, 1), (1, 1, 0)])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_caches_are_rebuilt(scheme, k, stride, pad):
    if not get_format(scheme).accepts((16, 8, k, k)):
        pytest.skip(f"{scheme} does not hold {k}x{k}")
    layer = SparseConv2d(8, 16, k, stride, pad, scheme=scheme, sparsity=_sparsity(scheme),
                         generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 8, 9, 9, generator=g)
    geom = layer.geometry
    dy = torch.randn(layer.sw.forward(x, geom).shape, generator=g)
    layer.sw.backward_data(dy, tuple(x.shape), geom)  # fills the old format's caches (CSR transpose)
    for step in range(2):
        layer.prune_grow(0.3, generator=g)
        with torch.no_grad():
            layer.values.normal_(generator=g)  # nonzero grown values, so they count below
        w = layer.dense_weight()
        tol = Comparison.float32_reduction(16 * k * k, scale=4.0, why="float32 sums reordered vs oneDNN")
        assert_agree(layer.sw.backward_data(dy, tuple(x.shape), geom),
                     torch.nn.grad.conv2d_input(tuple(x.shape), w, dy, stride=stride, padding=pad), tol,
                     f"{scheme} backward_data after mask update {step}")
        assert_agree(layer.sw.forward(x, geom), F.conv2d(x, w, stride=stride, padding=pad),
                     Comparison.float32_reduction(8 * k * k, scale=4.0), f"{scheme} forward after update {step}")


def test_linear_csr_transpose_cache_rebuilt():
    layer = _pg_layer("unstructured", "linear")
    g = torch.Generator().manual_seed(1)
    dy = torch.randn(5, 32, generator=g)
    layer.sw.backward_data(dy, (5, 40))
    old_sw = layer.sw
    layer.prune_grow(0.5, generator=g)
    assert layer.sw is not old_sw and layer.sw._trans == {}
    with torch.no_grad():
        layer.values.normal_(generator=g)
    assert_agree(layer.sw.backward_data(dy, (5, 40)), dy @ layer.dense_weight(),
                 Comparison.float32_reduction(32, scale=4.0), "linear backward_data after update")


# --- bad inputs and edge cases -----------------------------------------------------------------


def _snapshot(layer):
    return layer.sw, layer.values, layer.values.detach().clone(), layer.sparsity


def _unchanged(layer, snap):
    sw, p, v, sp = snap
    return layer.sw is sw and layer.values is p and torch.equal(layer.values.detach(), v) and layer.sparsity == sp


@pytest.mark.parametrize("scheme,kind", CASES)
def test_bad_inputs_raise_and_leave_the_layer_unchanged(scheme, kind):
    layer = _pg_layer(scheme, kind)
    snap = _snapshot(layer)
    shape = tuple(layer.sw.shape)
    for bad in (-0.1, 1.5, float("nan"), "0.1", None, True, torch.tensor(0.1)):
        with pytest.raises(ValueError, match="fraction"):
            layer.prune_grow(bad)
        assert _unchanged(layer, snap)
    with pytest.raises(ValueError, match="scores"):
        layer.prune_grow(0.1, scores=torch.ones(3))
    with pytest.raises(ValueError, match="scores"):
        layer.prune_grow(0.1, scores=torch.ones(shape, dtype=torch.int64))
    with pytest.raises(ValueError, match="mask"):
        layer.update_mask(torch.ones(shape))  # not bool
    with pytest.raises(ValueError, match="mask"):
        layer.update_mask(torch.ones(shape[0] + 1, *shape[1:], dtype=torch.bool))
    with pytest.raises(ValueError):
        layer.update_mask("not a mask")
    foreign = "block" if scheme != "block" else "unstructured"
    fm = get_format(foreign)
    if fm.accepts(shape):
        with pytest.raises(ValueError):
            layer.update_mask(fm.make_mask(shape, 0.5, by="random"))  # another format's Mask object
    unholdable = torch.zeros(shape, dtype=torch.bool)
    unholdable.view(-1)[0] = unholdable.view(-1)[-1] = True  # 2 far weights: no block/pattern/filter mask
    if scheme != "unstructured":
        with pytest.raises(ValueError):
            layer.update_mask(unholdable)
    with pytest.raises(ValueError, match="state"):
        layer.update_mask(layer.sw.mask(), state=(torch.zeros(3),))
    mo = get_format(scheme).prune_grow(layer.sw, 0.25, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="grown"):
        layer.update_mask(mo, grown=torch.zeros(10_000))
    with pytest.raises(ValueError, match="grown"):
        layer.update_mask(mo, grown="zero")
    assert _unchanged(layer, snap)


@pytest.mark.parametrize("scheme,kind", CASES)
def test_nothing_free_to_grow(scheme, kind):
    """Sparsity 0 (pattern: its lowest, 5/9: every kernel kept): a fraction that moves no unit is a
    no-op, any other raises naming the fraction."""
    layer = _pg_layer(scheme, kind, sparsity=get_format(scheme).min_sparsity)
    assert not bool((~_kept_units(scheme, layer.sw)).any())
    before = layer.dense_weight().clone()
    res = layer.prune_grow(0.0)
    assert res["pruned"] == res["grown"] == 0 and torch.equal(layer.dense_weight(), before)
    snap = _snapshot(layer)
    with pytest.raises(ValueError, match="fraction.*free"):
        layer.prune_grow(0.5)
    assert _unchanged(layer, snap)
    # a layer with few free units: growing more than are free raises, nothing changed
    low = _pg_layer(scheme, kind, sparsity=max(get_format(scheme).min_sparsity, 0.1) + 0.02)
    free = int((~_kept_units(scheme, low.sw)).sum())
    kept = int(_kept_units(scheme, low.sw).sum())
    assert 0 < free < kept
    snap = _snapshot(low)
    with pytest.raises(ValueError, match="fraction"):
        low.prune_grow(min(1.0, (free + 1) / kept))
    assert _unchanged(low, snap)


@pytest.mark.parametrize("scheme,kind", CASES)
def test_fully_pruned_layer(scheme, kind):
    layer = _pg_layer(scheme, kind, sparsity=1.0)
    assert layer.sw.nnz == 0 and layer.values.numel() == 0 or not bool(layer.sw.mask().any())
    res = layer.prune_grow(0.5, generator=torch.Generator().manual_seed(0))  # nothing kept: nothing moves
    assert res["kept"] == res["pruned"] == res["grown"] == 0
    shape = tuple(layer.sw.shape)
    x = torch.randn(2, shape[1], 5, 5) if kind == "conv" else torch.randn(2, shape[1])
    y = layer(x)
    assert torch.equal(y, layer.bias.view(1, -1, *([1] * (y.ndim - 2))).expand_as(y))
    # prune everything of a trained layer, then grow a mask back from nothing
    full = _pg_layer(scheme, kind)
    m = full.sw.mask()
    opt = torch.optim.SGD([full.values], lr=0.1, momentum=0.9)
    full(x).sum().backward()
    opt.step()
    res = full.update_mask(torch.zeros(shape, dtype=torch.bool), optimizer=opt)
    assert res["kept"] == 0 and res["pruned"] == int(m.sum()) and full.sparsity == 1.0
    res = full.update_mask(m, optimizer=opt, grown=1.0)
    assert res["grown"] == int(m.sum()) and torch.equal(full.dense_weight(), m.float())
    assert not bool(opt.state[full.values]["momentum_buffer"].any())


def test_helpers():
    g = torch.Generator().manual_seed(0)
    kept = torch.tensor([1, 4, 5, 9])
    assert free_unit_ids(kept, torch.arange(6)).tolist() == [0, 2, 3, 6, 7, 8]
    s = sample_ranks(1000, 7, g)
    assert s.numel() == 7 and torch.unique(s).numel() == 7
    # ties: equal scores prune the lower unit id first (stable by flat index)
    new, pruned, grown = prune_grow_units(10, torch.tensor([7, 2, 5, 3]), torch.ones(4), 0.5, g)
    assert pruned.tolist() == [2, 3] and not set(grown.tolist()) & {2, 3, 5, 7} and new.numel() == 4
