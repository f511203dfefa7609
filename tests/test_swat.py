"""SWAT: exact top-K selection (rule, ties, NaN policy, thread-count independence), the layers
against autograd of the masked dense layer, the refresh period, the training hook, the
benchmark cases and the claim measures. Kernel-vs-reference on every ISA: the swat ops in
tests/test_crossval.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparsebench import kernels
from sparsebench.methods.swat import (METHOD, SwatConv2d, SwatLinear, apply_swat, compress_activation,
                                      conv2d_weight_grad, select, topk_compress)
from sparsebench.methods.swat import reference as ref
from sparsebench.methods.swat import kernels as sk

ISAS = kernels.usable_isas()


def _ties(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 5, (n,), generator=g) - 2).float()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("method", ["auto", "radix", "sample"])
@pytest.mark.parametrize("n,k", [(300_001, 30_000), (300_001, 1), (300_001, 300_001), (1000, 7), (70_000, 35_000), (600_000, 60_000)])
def test_select_matches_sort_on_every_path(isa, method, n, k):
    x = torch.randn(n, generator=torch.Generator().manual_seed(n + k))
    got = select(x, k, method=method, isa=isa, threads=2)
    assert (got.threshold, got.n_gt, got.n_eq) == ref.kth_largest_abs(x, k)
    assert got.k == k


def test_select_is_independent_of_thread_count_and_sampled_path_takes_one_pass():
    x = torch.randn(2_000_000, generator=torch.Generator().manual_seed(3))
    a = select(x, 200_000, threads=1)
    b = select(x, 200_000, threads=2)
    assert a == b
    assert a.passes == 1  # the sampled bracket held the k-th value: one streaming pass
    assert select(x, 200_000, method="radix", threads=2).passes == 3


@pytest.mark.parametrize("isa", ISAS)
def test_ties_keep_exactly_k_lowest_index_first(isa):
    x = _ties(300_001)
    k = 100_000  # cuts the |x| = 1 class
    sel, (rp, col, vals) = topk_compress(x, k, 300_001, isa=isa, threads=2)
    assert vals.numel() == k and sel.n_eq > sel.need_eq > 0
    idx = col.to(torch.int64)
    eq = idx[x[idx].abs() == sel.threshold]
    all_eq = torch.nonzero(x.abs() == sel.threshold).flatten()
    assert torch.equal(eq, all_eq[: sel.need_eq])  # the lowest indices of the tied class
    assert torch.equal(torch.zeros(x.numel(), dtype=torch.bool).index_fill_(0, idx, True), ref.topk_mask(x, k))


def test_bad_input_is_a_clear_error():
    x = torch.randn(100)
    with pytest.raises(ValueError, match="k must be in"):
        select(x, 0)
    with pytest.raises(ValueError, match="k must be in"):
        select(x, 101)
    x[17] = float("nan")
    with pytest.raises(ValueError, match="weight contains 1 NaN"):
        select(x, 10, name="weight")
    big = torch.randn(400_000)
    big[123] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        select(big, 10)  # the sampled path counts NaN in its full pass too
    with pytest.raises(ValueError, match="NaN"):
        ref.kth_largest_abs(x, 10)
    with pytest.raises(TypeError, match="float32"):
        select(torch.randn(10, dtype=torch.float64), 1)
    with pytest.raises(ValueError, match="contiguous"):
        select(torch.randn(10, 10).T, 1)
    with pytest.raises(ValueError, match="period must be >= 1"):
        SwatConv2d(3, 4, 3, period=0)
    with pytest.raises(ValueError, match="weight_sparsity must be in"):
        SwatLinear(3, 4, weight_sparsity=1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        select(torch.randn(10), 1, method="heap")
    layer = SwatLinear(8, 4)
    with torch.no_grad():
        layer.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="weight contains 1 NaN"):
        layer(torch.randn(2, 8))


def _masked_reference(layer, x, dy):
    """Forward / dx / dW of the masked dense layer through torch autograd (the paper's semantics)."""
    w = layer.weight.detach()
    if layer.variant == "channel":
        wmask = ref.channel_topk_mask(w, ref.keep_count(w.shape[0] * w.shape[1], layer.weight_sparsity))
    else:
        wmask = ref.topk_mask(w, ref.keep_count(w.numel(), layer.weight_sparsity))
    xs = x * ref.topk_mask(x, ref.keep_count(x.numel(), layer.act_sparsity))
    wm = (w * wmask).requires_grad_(True)
    xg = x.clone().requires_grad_(True)
    if x.dim() == 4:
        y = F.conv2d(xg, wm, stride=layer.geometry.stride, padding=layer.geometry.padding)
        dw = torch.nn.grad.conv2d_weight(xs, w.shape, dy, stride=layer.geometry.stride,
                                         padding=layer.geometry.padding)
    else:
        y = xg @ wm.T
        dw = dy.T @ xs
    y.backward(dy)
    return y.detach(), xg.grad, dw


@pytest.mark.parametrize("variant", ["unstructured", "channel"])
@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0)])
def test_conv_layer_matches_masked_dense_autograd(variant, stride, padding):
    torch.manual_seed(0)
    layer = SwatConv2d(5, 7, 3, stride, padding, bias=False, weight_sparsity=0.8, act_sparsity=0.7,
                       variant=variant)
    x = torch.randn(3, 5, 9, 8)
    y = layer(x.clone().requires_grad_(True))
    dy = torch.randn_like(y)
    xg = x.clone().requires_grad_(True)
    y = layer(xg)  # a second step (threshold reused): same selection on the same data
    layer.weight.grad = None
    y.backward(dy)
    ry, rdx, rdw = _masked_reference(layer, x, dy)
    torch.testing.assert_close(y.detach(), ry, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(xg.grad, rdx, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.weight.grad, rdw, rtol=1e-5, atol=1e-5)
    assert abs(layer.sw.density - 0.2) < 0.05


def test_linear_layer_matches_masked_dense_autograd_and_frees_nothing_dense():
    torch.manual_seed(1)
    layer = SwatLinear(33, 10, bias=True, weight_sparsity=0.9, act_sparsity=0.9)
    x = torch.randn(16, 33).requires_grad_(True)
    y = layer(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    ry, rdx, rdw = _masked_reference(layer, x.detach(), dy)
    torch.testing.assert_close(y.detach(), ry + layer.bias.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, rdx, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.weight.grad, rdw, rtol=1e-5, atol=1e-5)
    st = layer.stats()
    assert st["act_bytes"] < st["act_dense_bytes"] and abs(st["act_density"] - 0.1) < 0.01


def test_refresh_period_selects_every_period_steps_and_reuses_between():
    layer = SwatLinear(20, 8, weight_sparsity=0.5, act_sparsity=0.5, period=3)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    thresholds = []
    for _ in range(7):
        opt.zero_grad()
        layer(torch.randn(4, 20)).square().sum().backward()
        opt.step()
        thresholds.append(layer.w_threshold)
    assert layer.refreshes == 3  # steps 0, 3, 6
    assert thresholds[0] == thresholds[1] == thresholds[2] and thresholds[3] == thresholds[4] == thresholds[5]
    assert thresholds[2] != thresholds[3]


def test_apply_keeps_first_layer_dense_and_trains_through_the_kernels():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, 2, 1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    apply_swat(model, 0.9, 0.9, period=2)
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[2], SwatConv2d) and isinstance(model[5], SwatLinear)
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    stats = METHOD.training_stats(model)
    assert set(stats) == {"2", "5"} and all(abs(s["weight_density"] - 0.1) < 0.02 for s in stats.values())
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (32, 10)


def test_method_hooks_and_schemes():
    assert METHOD.name == "swat" and METHOD.dense_first
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 3))
    METHOD.apply(model, "swat-channel-a0.5", 0.8)
    assert isinstance(model[1], SwatLinear) and model[1].act_sparsity == 0.5
    with pytest.raises(ValueError, match="SWAT scheme"):
        METHOD.apply(nn.Sequential(nn.Linear(2, 2)), "csr", 0.9)
    assert METHOD.accuracy_cases("mnist", True)


def test_empty_batch_and_all_zero_input():
    act = compress_activation(torch.zeros(0, 3, 4, 4), 0.9)
    assert act.nnz == 0
    dw = conv2d_weight_grad(act, torch.zeros(0, 2, 4, 4), (3, 3), 1, 1)
    assert dw.shape == (2, 3, 3, 3) and not dw.any()
    z = torch.zeros(2, 3, 5, 5)
    act = compress_activation(z, 0.9)  # all ties at 0: exactly k kept, lowest indices
    assert act.nnz == ref.keep_count(z.numel(), 0.9)
    assert torch.equal(act.to_dense(), z)


def test_smoke_benchmark_cases_build_and_run():
    from sparsebench.catalogue import profile

    cases = list(METHOD.cases(profile("smoke")))
    assert {c.stage for c in cases} >= {"forward", "weight_grad", "mask_update", "step"}
    from sparsebench.cases import BenchCase

    for stage in ("front_end", "mask_update", "weight_grad", "step"):
        case = BenchCase("swat", "linear-1024", "swat", stage, 0.9, 1)
        bench = METHOD.build(case)
        for fn in bench.impls.values():
            fn()
        assert set(bench.impls) == set(METHOD.impl_names(case))
    assert bench.effective_flops < bench.dense_flops


def test_claim_measures_read_swat_records():
    from sparsebench.claims import load_claims

    claims = {c.id: c for c in load_claims() if c.method == "swat"}
    assert "swat-resnet50-training-flops-80pct" in claims
    wording = ("For ResNet-50 on ImageNet SWAT reduces total floating-point operations (FLOPs) during training by 80% "
               "resulting in a 3.3x training speedup when run on a simulated sparse learning accelerator")
    assert claims["swat-resnet50-accelerator-3.3x"].wording == wording

    def rec(scheme, stage, s, **m):
        return {"kind": "stage", "case": {"suite": "swat", "layer": "L", "scheme": scheme, "stage": stage,
                                          "sparsity": s, "threads": 1, "impl": "sparsebench"}, "metrics": m}

    records = [rec("swat", st, 0.8, dense_flops=100, effective_flops=20) for st in
               ("forward", "backward_data", "weight_grad")]
    records += [rec("swat", "weight_grad", 0.9, act_memory_reduction=0.6, weight_memory_reduction=0.4),
                rec("swat-refresh", "step", 0.8, speedup_vs_torch_dense=1.5)]
    flops = METHOD.claim_measures["swat_flops"](claims["swat-resnet50-training-flops-80pct"], records)
    assert flops.value == pytest.approx(0.8) and flops.verdict == "reproduced"
    act = METHOD.claim_measures["swat_act_memory"](claims["swat-activation-memory-23-50pct"], records)
    assert act.verdict == "reproduced"
    wmem = METHOD.claim_measures["swat_weight_memory"](claims["swat-backward-weight-memory-50-90pct"], records)
    assert wmem.verdict != "reproduced"
    step = METHOD.claim_measures["swat_step_speedup"](claims["swat-resnet50-accelerator-3.3x"], records)
    assert step.verdict == "different setup" and step.value == pytest.approx(1.5)


def test_network_counts_flops_and_bytes():
    from sparsebench.methods.swat.network import network_counts

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, 2, 1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    apply_swat(model, 0.9, 0.9)
    out = network_counts(model, torch.randn(16, 1, 8, 8))
    first, conv2, fc = out["layers"]
    assert not first["swat"] and first["dense_flops"] == first["swat_flops"] == 2 * 2 * 16 * 64 * 4 * 9
    assert conv2["dense_flops"] == 3 * 2 * 16 * 16 * 8 * 4 * 9
    assert conv2["swat_flops"] == pytest.approx(conv2["dense_flops"] * 0.1, rel=0.05)
    assert 0 < out["total"]["flop_reduction"] < 0.9 and out["total"]["act_memory_reduction"] > 0


def test_network_and_selection_records_reach_swats_report_tables(tmp_path, capsys):
    """`network --no-train --out` and `selectbench --out` append result records; SWAT's tables
    (the report's SWAT section) show them, a rerun replacing the older row."""
    from sparsebench.measure import load_records
    from sparsebench.methods import get_method
    from sparsebench.methods.swat import network, selectbench

    out = tmp_path / "swat.json"
    network.main(["--dataset", "digits", "--weights", "0.9", "--acts", "0.5", "--no-train", "--out", str(out)])
    network.main(["--dataset", "digits", "--weights", "0.9", "--acts", "0.5", "--no-train", "--out", str(out)])
    selectbench.main(["--sizes", "3e4", "--threads", "1", "--out", str(out)])
    recs = load_records(out)
    assert sorted(r["kind"] for r in recs) == ["swat_network", "swat_network", "swat_select"]
    text = "\n\n".join(get_method("swat").tables(recs))
    net_rows = [line for line in text.splitlines() if line.startswith("digits ")]
    assert len(net_rows) == 1 and net_rows[0].split()[1:3] == ["0.9", "0.5"]
    flops = recs[0]["metrics"]["total"]["flop_reduction"]
    assert f"{-flops:+.1%}" in net_rows[0] and 0.5 < flops < 0.9
    assert "| 3e+04 | 1 |" in text


def test_validate_measures_swat_claims_through_claim_runs(tmp_path):
    """`sparsebench validate` runs the swat-suite cases a SWAT claim reads (once, however many
    claims share them) and the claim is then measured, not 'not measured'."""
    from sparsebench import claims
    from sparsebench.measure import load_records
    from sparsebench.methods import get_method

    claim = {c.id: c for c in claims.load_claims()}["swat-activation-memory-23-50pct"]
    out = tmp_path / "claims.json"
    assert claims.evaluate(claim, []).verdict == "not measured"
    get_method("swat").claim_runs(claim, "smoke", out)
    first = [r["case"]["id"] for r in load_records(out) if r["kind"] == "stage"]
    get_method("swat").claim_runs(claim, "smoke", out)  # already there: nothing re-run
    assert [r["case"]["id"] for r in load_records(out) if r["kind"] == "stage"] == first
    assert "swat/resnet-128x16/swat/weight_grad/s0.9/t1" in first
    v = claims.evaluate(claim, load_records(out))
    assert v.verdict != "not measured" and v.measured.endswith("%")
