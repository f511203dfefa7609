"""SSL: the group-Lasso reference against independent formulas (autograd of the penalty, the
proximal operator's closed form), the fused kernel's bad-input errors, the compaction against
the masked dense convolution, and training with the hooks."""

import pytest
import torch
import torch.nn.functional as F

from sparsebench import _kernels, kernels as kinfo
from sparsebench.methods.ssl import bench, kernels, plans, reference
from sparsebench.formats.lowered import CompactConv2d
from sparsebench.methods.ssl.nn import apply_ssl, prox_step, structured_sparsity

ISAS = kinfo.usable_isas()


def _w(shape=(6, 4, 3, 3), seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def test_subgradient_is_the_gradient_of_the_penalty():
    w = _w().requires_grad_(True)
    lams = dict(lam_rows=0.3, lam_cols=0.2, lam_chans=0.1, lam_depth=0.05)
    reference.penalty(w, **lams).backward()
    torch.testing.assert_close(reference.subgrad(w.detach(), **lams), w.grad, rtol=1e-5, atol=1e-6)


def test_prox_of_one_kind_is_the_group_soft_threshold():
    w = _w((5, 7))
    out = reference.prox(w, 0.5, lam_rows=2.0, zero_below=0.0)
    for r in range(5):
        n = float(w[r].norm())
        expect = w[r] * max(0.0, 1 - 1.0 / n)
        torch.testing.assert_close(out[r], expect)
    # a group whose norm is below lr * lambda vanishes whole; lambda 0 leaves w (zeroing aside)
    assert (reference.prox(w, 1.0, lam_cols=1e3) == 0).all()
    torch.testing.assert_close(reference.prox(w, 1.0, zero_below=0.0), w)


@pytest.mark.parametrize("isa", ISAS)
def test_kernel_prox_removes_the_groups_the_reference_removes(isa):
    w = _w((32, 16, 3, 3), 3) * 0.1
    w[::4] *= 0.05  # weak filters and filter shapes: below lr * lambda, they go
    w.reshape(32, -1)[:, ::7] *= 0.05
    lams = dict(lam_rows=0.5, lam_cols=0.4)
    ref = reference.prox(w, 0.2, **lams)
    got = kernels.prox(w, 0.2, **lams, isa=isa)
    assert torch.equal(ref == 0, got == 0)
    rows, cols = reference.structure(got)
    assert 0 < rows.numel() < 32 and 0 < cols.numel() < 144


@pytest.mark.parametrize("bad", [dict(lam_rows=-0.1), dict(lam_cols=float("nan")), dict(lam_depth=float("inf"))])
def test_negative_or_nonfinite_lambda_is_refused_naming_it(bad):
    w = _w()
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        kernels.prox(w, 0.1, **bad)
    with pytest.raises(ValueError, match=name):
        reference.prox(w, 0.1, **bad)
    with pytest.raises(ValueError, match=name):  # the binding checks too, never trusting the caller
        _kernels.ssl_prox(w.clone(), lr=0.1, **bad)
    with pytest.raises(ValueError, match="lam"):
        apply_ssl(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2)), -1.0)


def test_kernel_arguments_are_checked():
    with pytest.raises(TypeError, match="weight"):
        _kernels.ssl_prox(torch.zeros(3, 3, dtype=torch.float64), lr=0.1)
    with pytest.raises(ValueError, match="grad"):
        _kernels.ssl_subgrad(torch.zeros(3, 4), torch.zeros(4, 3), lam_rows=1.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.ssl_prox(torch.zeros(4, 6).t(), lr=0.1)
    with pytest.raises(ValueError, match="cols"):
        kernels.gather_cols(torch.zeros(1, 2, 5, 5), torch.tensor([18], dtype=torch.int32), 3, 3)
    with pytest.raises(ValueError, match="lr"):
        _kernels.ssl_prox(torch.zeros(3, 3), lr=-1.0)


def _structured(shape, rows, cols, seed=0):
    w = _w(shape, seed)
    v = w.reshape(shape[0], -1)
    v[list(rows)] = 0.0
    v[:, list(cols)] = 0.0
    return w


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 0), (4, 2)])
@pytest.mark.parametrize("kind", ["lowered", "channels"])
def test_compaction_equals_the_masked_dense_conv(kind, stride, pad):
    shape = (7, 5, 3, 3)
    cols = (0, 4, 9, 13, 40) if kind == "lowered" else tuple(range(9, 18)) + tuple(range(27, 36))
    w = _structured(shape, (1, 5), cols)
    b = torch.randn(7)
    x = torch.randn(2, 5, 11, 9)
    comp = CompactConv2d(w, b, stride, pad)
    assert comp.mode == kind
    full = F.conv2d(x, w, b, stride=stride, padding=pad)
    rows = [r for r in range(7) if r not in (1, 5)]
    torch.testing.assert_close(comp(x), full[:, rows], rtol=1e-4, atol=1e-4)
    expanded = comp(x, expand=True)
    torch.testing.assert_close(expanded[:, rows], full[:, rows], rtol=1e-4, atol=1e-4)
    assert (expanded[:, [1, 5]] == 0).all()
    assert comp.flop_fraction == pytest.approx(5 / 7 * (45 - len(cols)) / 45)
    if kind == "channels":
        cl = CompactConv2d(w, b, stride, pad, layout="channels_last")
        torch.testing.assert_close(cl(x.contiguous(memory_format=torch.channels_last)), full[:, rows],
                                   rtol=1e-4, atol=1e-4)


def test_compaction_refuses_an_all_zero_weight_and_bad_layouts():
    with pytest.raises(ValueError, match="every output channel is zero"):
        CompactConv2d(torch.zeros(3, 2, 3, 3))
    with pytest.raises(ValueError, match="layout"):
        CompactConv2d(_structured((4, 2, 3, 3), (), (1,)), layout="channels_last")


def test_plan_and_bench_cases():
    assert set(plans.ALEXNET_PAPER) == {f"alexnet-conv{i}" for i in range(1, 6)}
    assert 0 < plans.PLAN_SLOT < 1
    from sparsebench.catalogue import profile

    cs = list(bench.cases(profile("full")))
    paper = [c for c in cs if c.scheme == bench.PAPER_SCHEME]
    assert {c.layer for c in paper} == set(plans.ALEXNET_PAPER)
    assert all(c.sparsity == plans.PLAN_SLOT for c in paper)
    w = _w((64, 3, 11, 11))
    ws = bench.structured_weight(w, 0.25, 0.5, seed=1)
    rows, cols = reference.structure(ws)
    assert rows.numel() == 48 and cols.numel() == 363 - 182
    with pytest.raises(ValueError, match="removes every"):
        bench.structured_weight(w, 1.0, 0.0)


def test_training_learns_structure_and_keeps_learning():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 6 * 6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    x, y = torch.randn(64, 1, 6, 6), torch.randint(0, 3, (64,))
    apply_ssl(model, 0.5, ("rows", "cols"), mode="prox")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(20):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        prox_step(model, 0.1)
    stats = structured_sparsity(model)
    assert set(stats) == {"0", "3"}  # the classifier keeps its rows (the classes)
    assert any(v["row_sparsity"] > 0 or v["col_sparsity"] > 0 for v in stats.values())
    # the subgradient hooks change the gradient by exactly the kernel's term
    m2 = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Linear(5, 2))
    w0 = m2[0].weight.detach().clone()
    apply_ssl(m2, 0.3, ("rows",))
    m2(torch.ones(1, 4)).sum().backward()
    plain = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Linear(5, 2))
    plain.load_state_dict(m2.state_dict())
    plain(torch.ones(1, 4)).sum().backward()
    torch.testing.assert_close(m2[0].weight.grad - plain[0].weight.grad, reference.subgrad(w0, lam_rows=0.3))


def test_sweep_records_feed_the_report_table_and_figure(tmp_path, monkeypatch):
    """The README's sweep command writes "accuracy" records with the machine and the seed; the
    SSL section's table gives mean [min, max] over seeds per lambda and the figure is drawn."""
    from sparsebench.measure import load_records
    from sparsebench.methods.ssl import METHOD, sweep

    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # main() pins 1 thread: not this process
    out = tmp_path / "sweep.json"
    assert sweep.main(["--dataset", "digits", "--lams", "0", "0.2", "--seeds", "0", "1", "--epochs", "1",
                       "--out", str(out)]) == 0
    recs = load_records(out)
    assert len(recs) == 4 and {r["case"]["seed"] for r in recs} == {0, 1}
    for r in recs:
        assert r["kind"] == "accuracy" and r["machine"]["id"] and r["case"]["method"] == "ssl"
        m = r["metrics"]
        assert 0.0 <= m["structured_sparsity"] <= 1.0 and set(m["layer_macs"]) == set(m["layers"])
    dense = [r for r in recs if r["case"]["sparsity"] == 0]
    assert all(r["metrics"]["structured_sparsity"] == 0 for r in dense)
    text = METHOD.tables(recs)
    assert len(text) == 1 and "digits" in text[0] and "seeds 0,1" in text[0] and recs[0]["machine"]["id"] in text[0]
    accs = sorted(r["metrics"]["accuracy"] for r in dense)
    assert f"{sum(accs) / 2:.3f} [{accs[0]:.3f}, {accs[1]:.3f}]" in text[0]
    made = METHOD.figures(recs, tmp_path)
    assert [n for n, _ in made] == ["ssl-accuracy-vs-structure.png"] and (tmp_path / made[0][0]).stat().st_size > 0
    assert "seeds 0,1" in made[0][1] and recs[0]["machine"]["id"] in made[0][1]
    assert METHOD.tables([]) == [] and METHOD.figures([], tmp_path) == []


def test_network_structured_sparsity_weighs_layers_by_their_macs():
    from sparsebench.methods.ssl.sweep import network_structured_sparsity

    layers = {"a": {"flop_fraction": 0.5}, "b": {"flop_fraction": 1.0}}
    assert network_structured_sparsity(layers, {"a": 300, "b": 100}) == pytest.approx(1 - (150 + 100) / 400)
    assert network_structured_sparsity({}, {}) == 0.0


def test_twice_non_structured_claim_measures_its_own_cases(tmp_path, monkeypatch):
    """validate builds no case for an impl_vs comparison: SSL's claim_runs measures the claim's
    layers (both implementations in each case) and skips cases the results file already has."""
    import sparsebench.harness as harness
    from sparsebench import claims as claims_mod
    from sparsebench.measure import ResultStore
    from sparsebench.methods.ssl import METHOD
    from sparsebench.methods.ssl.claims import impl_vs_cases

    claim = {c.id: c for c in claims_mod.load_claims()}["ssl-alexnet-twice-non-structured"]
    full = impl_vs_cases(claim, "full")
    assert sorted({c.layer for c in full}) == sorted(claim.measure.layers)
    assert {c.scheme for c in full} == {"ssl-paper"} and {c.stage for c in full} == {"forward"}
    assert "unstructured-csr" in METHOD.impl_names(full[0]) and "sparsebench" in METHOD.impl_names(full[0])
    ran = []
    monkeypatch.setattr(harness, "run_cases", lambda cases, **kw: ran.append([c.id for c in cases]))
    out = tmp_path / "r.json"
    ResultStore(out).append({"kind": "stage", "case": {"id": full[0].id}})
    METHOD.claim_runs(claim, "full", out)
    assert ran == [[c.id for c in full[1:]]]
    ran.clear()
    other = {c.id: c for c in claims_mod.load_claims()}["ssl-alexnet-conv-cpu-5.1x"]
    METHOD.claim_runs(other, "full", out)  # a stage-time claim: validate's own cases
    assert ran == []


def test_group_norms_binding_counts_channels_of_0x0_kernels():
    import numpy as np

    out = _kernels.ssl_group_norms(np.zeros((5, 3, 0, 0), np.float32), 2)
    assert out.shape == (3,) and not out.any()
    w = np.random.default_rng(0).standard_normal((4, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(_kernels.ssl_group_norms(w, 2), np.sqrt((w ** 2).sum(axis=(0, 2, 3))), rtol=1e-5)
    lin = np.ones((2, 5), np.float32)
    np.testing.assert_allclose(_kernels.ssl_group_norms(lin, 2), np.full(5, np.sqrt(2.0)), rtol=1e-6)
