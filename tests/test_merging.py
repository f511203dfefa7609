"""Neuron merging: surgery and filter merging preserve the function where the paper says they do
(duplicate neurons; filters that are positive multiples of kept ones), the saliency formula, and
the errors for a merge target that does not exist."""

import pytest
import torch
import torch.nn.functional as F

from sparsebench import claims
from sparsebench.methods.merging import reference as ref


def test_saliency_is_the_papers_formula():
    g = torch.Generator().manual_seed(0)
    w, a = torch.randn(5, 3, generator=g), torch.randn(4, 5, generator=g)
    s = ref.saliency(w, a)
    for i in range(5):
        for j in range(5):
            if i != j:
                expect = float(a[:, j].pow(2).mean() * (w[i] - w[j]).pow(2).sum())
                assert float(s[i, j]) == pytest.approx(expect, rel=1e-6)
    assert torch.isinf(s.diagonal()).all()


def test_surgery_is_exact_on_duplicate_neurons():
    g = torch.Generator().manual_seed(1)
    w1, b1, w2 = torch.randn(6, 4, generator=g), torch.randn(6, generator=g), torch.randn(3, 6, generator=g)
    w1[4], b1[4] = w1[1], b1[1]  # neuron 4 duplicates neuron 1
    w1[5], b1[5] = w1[2], b1[2]
    x = torch.randn(10, 4, generator=g)
    full = F.relu(x @ w1.T + b1) @ w2.T
    nw1, nb1, nw2 = ref.surgery(w1, b1, w2, 4)
    torch.testing.assert_close(F.relu(x @ nw1.T + nb1) @ nw2.T, full, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="keep"):
        ref.surgery(w1, b1, w2, 0)


def test_filter_merging_is_exact_for_scaled_copies_and_pruning_is_not():
    g = torch.Generator().manual_seed(2)
    w, b = torch.randn(4, 3, 3, 3, generator=g), torch.randn(4, generator=g)
    w[3], b[3] = 0.5 * w[0], 0.5 * b[0]  # filter 3 = 0.5 x filter 0 (smallest L1: pruned)
    nxt = torch.randn(5, 4, 3, 3, generator=g)
    x = torch.randn(2, 3, 8, 8, generator=g)

    def net(w, b, nxt):
        return F.conv2d(F.relu(F.conv2d(x, w, b, padding=1)), nxt, padding=1)

    full = net(w, b, nxt)
    kept, mw, mb, mn = ref.filter_merge(w, b, nxt, 3, fold=True)
    assert kept.tolist() == [0, 1, 2]
    torch.testing.assert_close(net(mw, mb, mn), full, rtol=1e-4, atol=1e-4)
    _, pw, pb, pn = ref.filter_merge(w, b, nxt, 3, fold=False)
    assert not torch.allclose(net(pw, pb, pn), full, atol=1e-3)
    # a conv feeding a linear layer through a flatten: group = positions per filter
    lin = torch.randn(7, 4 * 16, generator=g)
    _, _, _, ln = ref.filter_merge(w, b, lin, 3, group=16)
    assert ln.shape == (7, 48)


def test_a_merge_target_that_does_not_exist_is_refused():
    w, a = torch.randn(4, 3), torch.randn(2, 4)
    alive = torch.ones(4, dtype=torch.bool)
    with pytest.raises(ValueError, match="merge target 9 does not exist"):
        ref.merge_pair(w, a, 9, 1, alive)
    with pytest.raises(ValueError, match="same unit"):
        ref.merge_pair(w, a, 2, 2, alive)
    ref.merge_pair(w, a, 0, 1, alive)
    with pytest.raises(ValueError, match="merge target 1 does not exist any more"):
        ref.merge_pair(w, a, 1, 2, alive)
    with pytest.raises(TypeError, match="merge source"):
        ref.merge_pair(w, a, 0, 2.0, alive)


def test_claim_reads_merged_minus_pruned_accuracy():
    claim = {c.id: c for c in claims.load_claims()}["merging-vgg16-recovers-without-finetuning"]
    assert claims.evaluate(claim, []).verdict == "not measured"
    recs = [{"kind": "accuracy", "created": "1", "case": {"method": "merging", "dataset": "digits",
             "scheme": f"cnn/conv2/{v}", "sparsity": 0.5}, "metrics": {"accuracy": a}}
            for v, a in (("prune", 0.80), ("merge", 0.90))]
    v = claims.evaluate(claim, recs)
    assert v.verdict == "different setup" and v.value == pytest.approx(10.0)


def test_claim_averages_over_seeds_pairing_each_seeds_networks():
    claim = {c.id: c for c in claims.load_claims()}["merging-vgg16-recovers-without-finetuning"]
    recs = [{"kind": "accuracy", "created": "1", "case": {"method": "merging", "dataset": "digits", "seed": seed,
             "scheme": f"cnn/conv2/{v}", "sparsity": 0.5}, "metrics": {"accuracy": a}}
            for seed, pr, mg in ((0, 0.80, 0.90), (1, 0.70, 0.72)) for v, a in (("prune", pr), ("merge", mg))]
    v = claims.evaluate(claim, recs)
    assert v.value == pytest.approx(6.0)  # (10 + 2) / 2 points


def test_experiment_records_feed_the_report_table_and_figure(tmp_path, monkeypatch):
    """The README's experiment command writes records with machine and seed; the merging section's
    table shows merged vs pruned per size and data set (mean [min, max] over seeds)."""
    from sparsebench.measure import load_records
    from sparsebench.methods.merging import METHOD, experiment

    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # main() pins 1 thread: not this process
    out = tmp_path / "merging.json"
    assert experiment.main(["--dataset", "digits", "--epochs", "1", "--seeds", "0", "1", "--out", str(out)]) == 0
    recs = load_records(out)
    assert {r["case"]["seed"] for r in recs} == {0, 1} and all(r["machine"]["id"] for r in recs)
    assert len({r["case"]["id"] for r in recs}) == len(recs)  # the seed is part of the id
    (text,) = METHOD.tables(recs)
    for frac in experiment.FRACTIONS:
        assert f"digits   cnn/conv2  {frac:7.0%}" in text and f"digits   mlp/fc1    {frac:7.0%}" in text
    pr = sorted(r["metrics"]["accuracy"] for r in recs if r["case"]["scheme"] == "cnn/conv2/prune"
                and r["case"]["sparsity"] == 0.5)
    assert f"{sum(pr) / 2:.3f} [{pr[0]:.3f}, {pr[1]:.3f}]" in text
    made = METHOD.figures(recs, tmp_path)
    assert [n for n, _ in made] == ["merging-vs-pruning.png"] and "seeds 0,1" in made[0][1]
    assert recs[0]["machine"]["id"] in made[0][1]
    assert METHOD.tables([]) == [] and METHOD.figures([], tmp_path) == []


def test_validate_measures_the_merging_claim(tmp_path):
    """`sparsebench validate --claim merging-...` has no catalogue case: the method's claim_runs
    runs the experiment (smoke: one seed, few epochs) and the claim is measured from its records."""
    from sparsebench.measure import load_records
    from sparsebench.methods.merging import METHOD
    from sparsebench.methods.merging.experiment import claim_grid

    assert claim_grid("quick") == [("digits", s, 12) for s in (0, 1, 2)]
    assert {ds for ds, _, _ in claim_grid("full")} == {"digits", "mnist"}
    claim = {c.id: c for c in claims.load_claims()}["merging-vgg16-recovers-without-finetuning"]
    out = tmp_path / "r.json"
    seen = []
    METHOD.claim_runs(claim, "smoke", out, lambda i, n, case: seen.append((i, n, case and case.id)))
    assert seen[0] == (0, 1, "merging/digits/seed0") and seen[-1] == (1, 1, None)
    v = claims.evaluate(claim, load_records(out))
    assert v.verdict == "different setup" and "digits/cnn/conv2" in v.basis
