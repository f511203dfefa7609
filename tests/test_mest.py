"""MEST (methods/mest): sparse init without a dense weight, the mutation (kernel = reference,
lowest scores pruned, zero-initialized growth among free units, optimizer state remapped, bad
input leaves the layer untouched), schedules, MEST's block scheme, forgetting counts, training
through the accuracy loop's hooks, benchmark cases and claim comparisons.
(Kernel vs reference on every ISA: the registry ops in methods/mest/ops.py, tests/test_crossval.py.)"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sparsebench.formats.modules import SparseConv2d, SparseLinear
from sparsebench.methods import get_method
from sparsebench.methods.mest import parse_spec
from sparsebench.methods.mest import reference as ref
from sparsebench.methods.mest import kernels as ker
from sparsebench.methods.mest.forgetting import ForgettingCounter
from sparsebench.methods.mest.init import SCHEMES, random_sparse_weight
from sparsebench.methods.mest.mutate import mutate
from sparsebench.methods.mest.schedule import Schedule
from sparsebench.methods.mest.units import stored_units


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread (kernels with threads=0 follow torch's count): the CI machine has 2 shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _layer(shape, scheme, s, seed=0):
    sw = random_sparse_weight(shape, scheme, s, seed=seed)
    return (SparseConv2d.from_sparse(sw, 1, 1, bias=False, threads=1) if len(shape) == 4
            else SparseLinear.from_sparse(sw, bias=False, threads=1))


def _alloc_sizes(fn):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return [int(e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]" and e.nbytes() > 0]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sparse_init_and_a_training_step_never_allocate_a_dense_weight(scheme):
    shape = (128, 128, 3, 3)
    dense_bytes = 4 * math.prod(shape)
    x = torch.randn(2, 128, 6, 6)
    held = {}

    def build_and_step():
        layer = _layer(shape, scheme, 0.9)
        opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
        layer(x).square().mean().backward()
        opt.step()
        u = stored_units(layer.sw)
        n = min(max(1, int(u.kept.numel()) // 5), u.n_units - int(u.kept.numel()))
        mutate(layer, n, n, optimizer=opt, seed=1)  # and a mask update
        held["layer"] = layer

    sizes = _alloc_sizes(build_and_step)
    assert sizes, "the profiler saw no allocation at all"
    # (the largest temporaries: kept positions, block-grid scores; a dense float32 weight would be dense_bytes)
    assert max(sizes) < dense_bytes, f"{scheme}: an allocation of {max(sizes)} B >= the dense weight"
    layer = held["layer"]
    assert abs(layer.sw.density - 0.1) < 0.03
    bound = 1.0 / math.sqrt(128 * 9)
    assert float(layer.values.detach().abs().max()) <= bound * 1.5  # U(-1/sqrt(fan_in), ..) (+ one SGD step)


def test_sparse_init_draws_exact_counts_and_reproducible_masks():
    a = random_sparse_weight((33, 17), "unstructured", 0.8, seed=5)
    b = random_sparse_weight((33, 17), "unstructured", 0.8, seed=5)
    c = random_sparse_weight((33, 17), "unstructured", 0.8, seed=6)
    assert a.nnz == 33 * 17 - round(0.8 * 33 * 17)
    assert torch.equal(a.positions(), b.positions()) and not torch.equal(a.positions(), c.positions())
    assert random_sparse_weight((9, 4), "unstructured", 0.25, seed=1).nnz == 36 - 9  # low sparsity: zeros drawn
    assert random_sparse_weight((9, 4), "unstructured", 0.0, seed=1).nnz == 36


@pytest.mark.parametrize("scheme", SCHEMES)
def test_mutation_kernel_equals_reference_and_follows_mest(scheme):
    shape = (16, 8, 3, 3)
    layers = {impl: _layer(shape, scheme, 0.75 if scheme != "filter" else 0.5, seed=2) for impl in ("kernel", "reference")}
    outs = {}
    for impl, layer in layers.items():
        opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
        layer(torch.randn(2, 8, 5, 5, generator=torch.Generator().manual_seed(0))).sum().backward()
        opt.step()
        before_pos = layer.sw.positions().clone()
        before_val = layer.values.detach().clone()
        before_mom = opt.state[layer.values]["momentum_buffer"].clone()
        u = stored_units(layer.sw)
        k = max(1, int(u.kept.numel()) // 4)
        out = mutate(layer, k, k, optimizer=opt, seed=11, impl=impl)
        outs[impl] = (layer.sw.positions(), layer.values.detach().clone(), opt.state[layer.values]["momentum_buffer"])
        assert out["units_pruned"] == out["units_grown"] == k
        # units keep their count; the pruned ones were the lowest scored
        after = stored_units(layer.sw)
        assert after.kept.numel() == u.kept.numel()
        scores = ref.unit_scores(ref.slot_scores(before_val), u.per_unit)
        gone = ~torch.isin(u.kept, after.kept)
        assert int(gone.sum()) == k
        assert float(scores[gone].max()) <= float(scores[~gone].min())
        # grown positions start at 0 with zero momentum; survivors keep value and momentum
        pos = layer.sw.positions()
        real = pos >= 0
        old = torch.isin(pos, before_pos[before_pos >= 0]) & real
        grown = real & ~old
        assert int(grown.sum()) > 0 and bool((layer.values.detach()[grown] == 0).all())
        assert bool((opt.state[layer.values]["momentum_buffer"][grown] == 0).all())
        order = torch.searchsorted(before_pos[before_pos >= 0].sort().values, pos[old])
        srt = torch.argsort(before_pos[before_pos >= 0])
        src_slots = torch.nonzero(before_pos >= 0).flatten()[srt][order]
        assert torch.equal(layer.values.detach()[old], before_val[src_slots])
        assert torch.equal(opt.state[layer.values]["momentum_buffer"][old], before_mom[src_slots])
    for a, b in zip(outs["kernel"], outs["reference"]):
        assert torch.equal(a, b)


def test_gradient_term_breaks_magnitude_ties():
    layer = _layer((4, 16), "unstructured", 0.5, seed=0)
    with torch.no_grad():
        layer.values.fill_(1.0)  # every |w| equal: only lambda * |grad| ranks
    grad = torch.arange(layer.values.numel(), dtype=torch.float32).flip(0).contiguous()
    pos = layer.sw.positions().clone()
    out = mutate(layer, 3, 3, lam=0.5, grad=grad, seed=0)
    assert out["units_pruned"] == 3
    assert not bool(torch.isin(pos[-3:], layer.sw.positions()).any())  # the 3 smallest |grad| went
    layer2 = _layer((4, 16), "unstructured", 0.5, seed=0)
    with torch.no_grad():
        layer2.values.fill_(1.0)
    mutate(layer2, 3, 3, lam=0.0, grad=grad, seed=0)  # lambda 0: ties drop the lowest ids first
    assert not bool(torch.isin(pos[:3], layer2.sw.positions()).any())


def test_bad_input_names_the_argument_and_changes_nothing():
    layer = _layer((8, 4, 3, 3), "unstructured", 0.9)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    layer(torch.randn(1, 4, 4, 4)).sum().backward()
    opt.step()
    snap = (layer.sw.positions().clone(), layer.values.detach().clone(), opt.state[layer.values]["momentum_buffer"].clone())
    u = stored_units(layer.sw)
    free = u.n_units - int(u.kept.numel())
    for kw, word in (({"n_prune": 1, "n_grow": free + 1}, "n_grow"), ({"n_prune": int(u.kept.numel()) + 1, "n_grow": 0},
                     "n_prune"), ({"n_prune": 1, "n_grow": 1, "lam": -1.0}, "lam"),
                     ({"n_prune": 1, "n_grow": 1, "grad": torch.zeros(3)}, "grad"), ({"n_prune": 1.5, "n_grow": 1}, "n_prune")):
        with pytest.raises(ValueError, match=word):
            mutate(layer, optimizer=opt, **kw)
        assert torch.equal(layer.sw.positions(), snap[0]) and torch.equal(layer.values.detach(), snap[1])
        assert torch.equal(opt.state[layer.values]["momentum_buffer"], snap[2])
    for s in (1.0, -0.1, float("nan"), 1.5):
        with pytest.raises(ValueError, match="sparsity"):
            random_sparse_weight((8, 4), "unstructured", s)
    with pytest.raises(ValueError, match="scheme 'pattern' cannot hold"):
        random_sparse_weight((8, 4), "pattern", 0.9)  # a linear weight
    with pytest.raises(ValueError, match="scheme 'pattern' cannot hold"):
        random_sparse_weight((8, 4, 1, 1), "pattern", 0.9)
    with pytest.raises(ValueError, match="scheme"):
        parse_spec("csc+ems")
    with pytest.raises(ValueError, match="steps out of order"):
        Schedule.of("em", steps=((0.75, 0.01), (0.56, 0.02), (1.0, 0.0)))
    with pytest.raises(ValueError, match="every"):
        Schedule.of("em", every=0)
    with pytest.raises(ValueError, match="until=1.0"):
        Schedule.of("em", steps=((0.5, 0.02),))


def test_em_schedule_is_the_authors_default():
    sch = Schedule.of("em")
    ups = dict(sch.updates(160))
    assert sorted(ups) == [e - 1 for e in range(5, 160, 5)]
    assert ups[84] == 0.02 and ups[89] == 0.01 and ups[119] == 0.01 and ups[124] == 0.0
    assert set(dict(Schedule.of("mest").updates(20)).values()) == {0.02}
    fmt, s, data = parse_spec("block+ems+drop@3")
    assert (fmt, s.kind, s.every, data is not None) == ("block", "ems", 3, True)
    assert parse_spec("pattern+static")[1].updates(10) == [(4, 0.0)]


def test_grow_is_uniform_over_free_units():
    kept = torch.tensor([0, 3, 4, 9], dtype=torch.int64)
    n_units, k, trials = 20, 3, 4000
    counts = torch.zeros(n_units)
    for seed in range(trials):
        g = ker.grow_units(kept, n_units, k, seed)
        assert len(set(g.tolist())) == k and not bool(torch.isin(g, kept).any())
        counts[g] += 1
    free = counts[~torch.isin(torch.arange(n_units), kept)]
    expected = trials * k / free.numel()
    chi2 = float(((free - expected) ** 2 / expected).sum())
    assert chi2 < 45.0  # 15 degrees of freedom: p ~ 1e-4
    assert bool((counts[kept] == 0).all())


def test_mest_block_scheme_is_the_block_format_with_4x1_blocks():
    """The authors' block scheme: on the lowered weight (Cout, Cin*kh*kw), inside each group of 4
    consecutive filters, whole columns are kept or pruned by L2 norm. That is the block format with
    (4, 1) blocks (4 output channels x 1 input channel at one tap)."""
    from sparsebench.formats.block.masks import block_mask

    gen = torch.Generator().manual_seed(0)
    w = torch.randn(16, 6, 3, 3, generator=gen)
    s = 0.75
    low = w.reshape(16, -1)
    col_l2 = low.reshape(4, 4, -1).pow(2).sum(1)  # (groups, columns)
    n_keep = round((1 - s) * col_l2.numel())
    keep = torch.zeros(col_l2.numel(), dtype=torch.bool)
    keep[torch.argsort(col_l2.flatten(), descending=True)[:n_keep]] = True
    authors = keep.reshape(4, 1, -1).expand(4, 4, -1).reshape(16, 6, 3, 3)
    ours = block_mask(w.shape, s, block=(4, 1), weight=w).dense()
    assert torch.equal(ours, authors)
    sw = random_sparse_weight((16, 6, 3, 3), "block", s)
    assert sw.block == (4, 1) and stored_units(sw).per_unit == 4


def test_forgetting_counts_correct_to_wrong_transitions():
    fc = ForgettingCounter(3)
    y = torch.tensor([0, 1, 2])
    right = torch.eye(3)
    wrong = torch.eye(3).roll(1, 1)
    idx = torch.arange(3)
    for logits in (right, wrong, right, wrong, wrong):
        fc.update(idx, logits, y)
    assert fc.events.tolist() == [2, 2, 2]
    fc.update(torch.tensor([0]), right[:1], y[:1])
    fc.update(torch.tensor([0]), wrong[:1], y[:1])
    assert fc.events.tolist() == [3, 2, 2]
    fc2 = ForgettingCounter(4)
    fc2.update(torch.arange(4), torch.eye(4)[[0, 1, 2, 0]], torch.tensor([0, 1, 2, 3]))  # 3 never right
    fc2.update(torch.arange(4), torch.eye(4)[[1, 1, 2, 0]], torch.tensor([0, 1, 2, 3]))  # 0 forgotten once
    assert fc2.keep_after_dropping(2).tolist() == [0, 3]  # 1, 2 never forgotten; 3 never learned stays
    with pytest.raises(ValueError, match="drop"):
        fc2.keep_after_dropping(1.5)


def test_ems_training_through_the_accuracy_loop_logs_mutations_and_ends_at_the_bound():
    from sparsebench.accuracy.data import Split, load
    from sparsebench.accuracy.runs import AccuracyCase, train

    d = load("digits")
    data = Split(d.x_train[:300], d.y_train[:300], d.x_test[:100], d.y_test[:100], "digits")
    out = train(AccuracyCase("mest", "unstructured+ems+drop@1", 0.9, epochs=3), data)
    m = out["mest"]
    assert [u["epoch"] for u in m["updates"]][:2] == [0, 1]
    assert m["updates"][0]["grown"] > 0 and m["updates"][0]["pruned"] == 0  # grow first, above the bound
    assert m["updates"][1]["pruned"] > 0
    assert all(abs(a - b) < 0.02 for a, b in zip(m["final_density"], m["target_density"]))
    de = m["data_efficiency"]
    assert de["kept_examples"] < de["examples"] and m["examples_presented"] < 3 * de["examples"]
    assert 0.0 <= out["accuracy"] <= 1.0


def test_bench_cases_build_and_run_every_stage():
    from sparsebench.cases import BenchCase

    method = get_method("mest")
    for stage in method.stages:
        case = BenchCase("mest", "resnet-128x16", "pattern", stage, 0.9, 1)
        assert method.accepts(case)
        sb = method.build(case)
        assert set(sb.impls) == set(method.impl_names(case))
        for fn in sb.impls.values():
            fn()
    assert not method.accepts(BenchCase("mest", "linear-1024", "pattern", "forward", 0.9, 1))
    assert not method.accepts(BenchCase("mest", "resnet-128x16", "unstructured", "forward", 0.0, 1))


def test_claim_comparisons_on_records():
    from sparsebench import claims
    from sparsebench.measure import make_record

    loaded = {c.id: c for c in claims.load_claims()}
    mach = {"id": "m"}
    mem = [make_record("mest_memory", {"model": "mlp", "impl": i, "scheme": "unstructured", "sparsity": s, "threads": 1,
                                       "id": f"{i}{s}"}, {"peak_bytes": b * 2**20}, mach)
           for i, s, b in (("dense", 0.0, 500), ("masked-dense", 0.9, 700), ("mest", 0.5, 300), ("mest", 0.9, 90))]
    v = claims.evaluate(loaded["mest-memory-economic"], mem)
    assert v.value == pytest.approx(1 - 90 / 500) and v.verdict == "different setup" and "reproduced" in v.note
    flat = mem[:-1] + [make_record("mest_memory", {"model": "mlp", "impl": "mest", "scheme": "unstructured",
                                                   "sparsity": 0.9, "threads": 1, "id": "x"}, {"peak_bytes": 400 * 2**20}, mach)]
    assert "not reproduced" in claims.evaluate(loaded["mest-memory-economic"], flat).note or \
        "partly" in claims.evaluate(loaded["mest-memory-economic"], flat).note
    acc = [make_record("accuracy", {"method": "mest", "scheme": sch, "sparsity": 0.9, "dataset": "digits", "seed": seed,
                                    "id": sch}, {"accuracy": a}, mach)
           for sch, seed, a in (("unstructured+static", 0, 0.80), ("unstructured+ems@2", 0, 0.85),
                                ("unstructured+static", 1, 0.82), ("unstructured+ems@2", 1, 0.84))]
    v = claims.evaluate(loaded["mest-imagenet-top1-same-unstructured"], acc)
    assert v.value == pytest.approx(3.5) and v.verdict == "different setup"
    assert claims.evaluate(loaded["mest-imagenet-top1-same-unstructured"], []).verdict == "not measured"


def test_filter_scheme_keeps_every_class_of_the_last_layer():
    """Filter sparsity on the classifier would remove output rows, i.e. classes (a 10-way
    classifier at s = 0.9 keeps one class): the last layer takes the unstructured scheme, every
    output row keeps weights, the convolutions stay filter-sparse."""
    from sparsebench.accuracy.runs import AccuracyCase, build_model

    model = build_model(AccuracyCase("mest", "filter+ems@2", 0.9, "mnist"), 28)
    layers = [m for m in model if hasattr(m, "scheme")]
    assert [m.scheme for m in layers] == ["filter", "filter", "unstructured"]
    rows_kept = (layers[-1].dense_weight() != 0).any(dim=1)
    assert bool(rows_kept.all())


def test_report_figure_per_data_set_draws_every_format_and_variant(tmp_path):
    from synthetic_records import accuracy_records

    from sparsebench.methods import get_method

    recs = accuracy_records("mest")
    for r in recs[:]:  # a static twin of every MEST run
        if r["case"]["method"] == "mest":
            recs.append({**r, "case": {**r["case"], "scheme": r["case"]["scheme"] + "+static"}})
    made = get_method("mest").figures(recs, tmp_path)
    assert [m[0] for m in made] == ["mest-accuracy-digits.png"]
    assert (tmp_path / made[0][0]).stat().st_size > 5000
    assert get_method("mest").figures([], tmp_path) == []
