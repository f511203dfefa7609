"""Verdict logic on hand-made records: every verdict is reachable and says why."""

import pytest

from sparsebench import claims
from synthetic_records import accuracy_records, stage_record, suite_records

LAYERS = ("alexnet-conv3", "alexnet-conv4", "alexnet-conv5")


def _claim(**over):
    base = {"id": "c", "paper": "p", "method": "ssl", "metric": "stage_speedup", "value": 5.0, "implemented": True,
            "setup": {k: "v" for k in ("network", "dataset", "sparsity", "hardware", "baseline", "wording")},
            "measure": {"suite": "weight_sparse", "schemes": ["filter"], "stages": ["forward"],
                        "layers": list(LAYERS), "sparsity": 0.9, "comparison": "stage_time_sum"}}
    measure = over.pop("measure", {})
    base.update(over)
    base["measure"].update(measure)
    return claims.parse_claims({"claim": [base]})[0]


def _records(speedups, kind="x86", scheme="filter", stage="forward", s=0.9):
    """ours + torch-dense records with the given speedup per layer."""
    out = []
    for layer, sp in speedups.items():
        out.append(stage_record(kind, "weight_sparse", layer, scheme, stage, s, "torch-dense", 1.0))
        out.append(stage_record(kind, "weight_sparse", layer, scheme, stage, s, "sparsebench", 1.0 / sp,
                                speedup_vs_torch_dense=sp))
    return out


@pytest.mark.parametrize("speedups, verdict", [
    ({"alexnet-conv3": 6.0, "alexnet-conv4": 5.2, "alexnet-conv5": 5.0}, "reproduced"),  # every layer >= 5.0
    # issue 13: no implicit 10% slack any more, 4.7 < 5.0 on one layer is "partly" (was "reproduced")
    ({"alexnet-conv3": 6.0, "alexnet-conv4": 5.2, "alexnet-conv5": 4.7}, "partly"),
    ({"alexnet-conv3": 3.0, "alexnet-conv4": 3.2, "alexnet-conv5": 2.9}, "partly"),
    ({"alexnet-conv3": 6.0, "alexnet-conv4": 3.0, "alexnet-conv5": 3.0}, "partly"),  # some layers only
    ({"alexnet-conv3": 0.8, "alexnet-conv4": 0.9, "alexnet-conv5": 0.7}, "not reproduced"),
    ({"alexnet-conv3": 1.2, "alexnet-conv4": 1.3, "alexnet-conv5": 1.1}, "not reproduced"),  # far below
])
def test_speedup_verdicts(speedups, verdict):
    v = claims.evaluate(_claim(), _records(speedups))
    assert v.verdict == verdict
    assert v.claimed == "5.00x" and v.measured.endswith("x")
    assert "alexnet-conv4" in v.basis and "s=0.9" in v.basis and "1 thread" in v.basis and "synthetic-epyc" in v.basis


def test_not_measured_without_records_or_with_unavailable_cases():
    assert claims.evaluate(_claim(), []).verdict == "not measured"
    unavailable = {"kind": "unavailable", "case": {"suite": "weight_sparse", "layer": "alexnet-conv4",
                   "scheme": "filter", "stage": "forward", "sparsity": 0.9, "threads": 1},
                   "metrics": {"reason": "scheme 'filter' not available"}, "machine": {"id": "m"}}
    v = claims.evaluate(_claim(), [unavailable])
    assert v.verdict == "not measured" and "not available" in v.note
    # wrong sparsity is not silently used
    assert claims.evaluate(_claim(), _records({"alexnet-conv4": 9.0}, s=0.5)).verdict == "not measured"


def test_different_setup_for_other_shapes_arch_and_device():
    other_layers = claims.evaluate(_claim(), _records({"resnet-128x16": 9.0}))
    assert other_layers.verdict == "different setup" and "measured only on resnet-128x16" in other_layers.note
    assert "by the numbers: reproduced" in other_layers.note
    arm = claims.evaluate(_claim(measure={"arch": "aarch64"}), _records({"alexnet-conv4": 9.0}))
    assert arm.verdict == "different setup" and "aarch64" in arm.note and "x86_64" in arm.note
    # an ARM machine's records are preferred when present
    both = _records({"alexnet-conv4": 9.0}) + _records({"alexnet-conv4": 9.0}, kind="arm")
    assert claims.evaluate(_claim(measure={"arch": "aarch64"}), both).verdict == "reproduced"
    gpu = claims.evaluate(_claim(measure={"device": "gpu"}), _records({"alexnet-conv4": 9.0}))
    assert gpu.verdict == "different setup" and "GPU" in gpu.note


def test_range_claim_and_up_to_claim():
    within = _claim(value=1.4, range=[0.2, 1.4], expect="within", measure={"schemes": ["unstructured"]})
    assert claims.evaluate(within, _records({"alexnet-conv4": 0.8}, scheme="unstructured")).verdict == "reproduced"
    above = claims.evaluate(within, _records({"alexnet-conv4": 3.0}, scheme="unstructured"))
    assert above.verdict == "not reproduced" and "above" in above.note
    up_to = _claim(measure={"aggregate": "max"})
    v = claims.evaluate(up_to, _records({"alexnet-conv3": 1.5, "alexnet-conv4": 5.5, "alexnet-conv5": 2.0}))
    assert v.verdict == "reproduced" and v.value == pytest.approx(5.5)


def test_newest_record_wins_and_baseline_derived_from_stored_speedup():
    old = _records({"alexnet-conv4": 1.0})
    new = [dict(r, created="2030-01-01T00:00:00+00:00") for r in _records({"alexnet-conv4": 6.0})]
    assert claims.evaluate(_claim(), old + new).verdict == "reproduced"
    only_ours = [r for r in _records({"alexnet-conv4": 6.0}) if r["case"]["impl"] == "sparsebench"]
    assert claims.evaluate(_claim(), only_ours).value == pytest.approx(6.0)


def test_training_step_adds_the_dense_forward():
    claim = _claim(metric="end_to_end_speedup", value=2.0, measure={
        "suite": "actgrad", "schemes": ["actgrad"], "stages": ["backward"], "plus_dense_forward": True})
    recs = [stage_record("x86", "actgrad", "alexnet-conv4", "actgrad", "backward", 0.9, "torch-dense", 2.0),
            stage_record("x86", "actgrad", "alexnet-conv4", "actgrad", "backward", 0.9, "sparsebench", 0.5),
            stage_record("x86", "weight_sparse", "alexnet-conv4", "unstructured", "forward", 0.9, "torch-dense", 1.0)]
    v = claims.evaluate(claim, recs)
    assert v.value == pytest.approx(3.0 / 1.5)  # (1 + 2) / (1 + 0.5)
    assert claims.evaluate(claim, recs[:2]).value == pytest.approx(4.0)  # noted: backward only


def test_scheme_comparison_claim():
    claim = _claim(value=1.0, tolerance=0.0, measure={"schemes": ["block", "pattern"], "versus": "unstructured",
                                                       "stages": ["forward", "backward_data"], "layers": [],
                                                       "comparison": "scheme_vs"})
    recs = suite_records("x86", layers=("alexnet-conv4",), sparsities=(0.9,), rates=())
    v = claims.evaluate(claim, recs)
    assert v.verdict == "reproduced" and "block" in v.note and "faster than unstructured" in v.claimed
    slow = suite_records("x86", layers=("alexnet-conv4",), sparsities=(0.9,), rates=(),
                         speedup=lambda sc, l, st, s: 5.0 if sc in ("unstructured", "pattern") else 1.0)
    assert claims.evaluate(claim, slow).verdict == "partly"  # pattern ties, block slower: only some


def test_flop_and_memory_reductions():
    recs = suite_records("x86", layers=("alexnet-conv4",), sparsities=(0.9,), rates=())
    flops = _claim(metric="flop_reduction", value=0.85, measure={"comparison": "flop_reduction"})
    assert claims.evaluate(flops, recs).value == pytest.approx(0.9, abs=0.01)
    mem = _claim(metric="memory_reduction", value=0.5, measure={"comparison": "memory_reduction"})
    v = claims.evaluate(mem, recs)
    assert v.verdict == "reproduced" and v.measured.endswith("%")


def test_accuracy_claim_is_always_a_different_setup_when_small_data():
    claim = _claim(method="mest", metric="accuracy_delta", value=-8.0, measure={
        "comparison": "accuracy_delta", "differs": "small offline data sets", "schemes": []})
    v = claims.evaluate(claim, accuracy_records())
    assert v.verdict == "different setup" and "by the numbers: reproduced" in v.note
    assert "digits/block" in v.basis and v.value == pytest.approx(-5.85)


def test_accuracy_claim_pairs_seeds_and_falls_back_to_the_dense_model():
    """Without the method's own sparsity-0 run the dense model is the baseline, seed by seed; a
    seed only one side ran does not count; measure.schemes picks the runs."""
    recs = [r for r in accuracy_records() if not (r["case"]["method"] == "mest" and r["case"]["sparsity"] == 0.0)]
    recs = [r for r in recs if not (r["case"]["method"] == "dense" and r["case"]["seed"] == 1)]
    claim = _claim(method="mest", metric="accuracy_delta", value=-8.0, measure={
        "comparison": "accuracy_delta", "schemes": ["block"]})
    v = claims.evaluate(claim, recs)
    # block at s=0.9, seed 0: 0.908 vs dense 0.98 (seed 1 has no dense run)
    assert v.per_layer == {"digits/block": pytest.approx(-7.2)} and "vs dense" in v.basis
    assert "1 seed(s)" in v.note and v.verdict == "reproduced"
    none = claims.evaluate(claim, [r for r in recs if r["case"]["method"] != "dense"])
    assert none.verdict == "not measured"


def test_tolerance_only_when_the_claim_states_one():
    with pytest.raises(ValueError, match="tolerance_source"):
        _claim(tolerance=0.1)
    stated = _claim(tolerance=0.1, setup={**{k: "v" for k in ("network", "dataset", "sparsity", "hardware", "baseline",
                                                              "wording")}, "tolerance_source": "the paper: 'about 5x'"})
    v = claims.evaluate(stated, _records({"alexnet-conv3": 6.0, "alexnet-conv4": 5.2, "alexnet-conv5": 4.7}))
    assert v.verdict == "reproduced"


def test_not_implemented_is_not_measured_even_with_records_and_stand_in_is_its_own_row():
    recs = _records({"alexnet-conv3": 9.0, "alexnet-conv4": 9.0, "alexnet-conv5": 9.0})
    base = _claim(implemented=False, todo="SSL is not implemented")
    assert claims.evaluate(base, recs).verdict == "not measured"
    data = {"claim": [
        {"id": "ssl", "paper": "p", "method": "ssl", "metric": "stage_speedup", "value": 5.0, "implemented": False,
         "setup": {k: "v" for k in ("network", "dataset", "sparsity", "hardware", "baseline", "wording")},
         "measure": {"comparison": "stage_time_sum"}},
        {"id": "ssl-stand-in", "paper": "p", "method": "filter", "metric": "stage_speedup", "value": 5.0,
         "implemented": True, "stand_in_for": "ssl",
         "setup": {k: "v" for k in ("network", "dataset", "sparsity", "hardware", "baseline", "wording")},
         "measure": {"suite": "weight_sparse", "schemes": ["filter"], "stages": ["forward"], "layers": list(LAYERS),
                     "sparsity": 0.9, "comparison": "stage_time_sum", "differs": "filter format at s = 0.9"}}]}
    ssl, stand_in = claims.parse_claims(data)
    assert claims.evaluate(ssl, recs).verdict == "not measured"
    v = claims.evaluate(stand_in, recs)
    assert v.verdict == "different setup" and "stand-in for ssl" in v.note and "filter format at s = 0.9" in v.note
    assert "by the numbers: reproduced" in v.note
    bad = dict(data["claim"][1], measure={**data["claim"][1]["measure"], "differs": ""})
    with pytest.raises(ValueError, match="differs"):
        claims.parse_claims({"claim": [data["claim"][0], bad]})


def test_fallbacks_are_written_in_the_note():
    recs = _records({"alexnet-conv4": 6.0})
    v = claims.evaluate(_claim(measure={"threads": 2}), recs)
    assert "fallback" in v.note and "2 thread" in v.note
    assert "missing alexnet-conv3" in v.note
    best = claims.evaluate(_claim(measure={"aggregate": "max"}), recs)
    assert "best-of" in best.note


def test_verdicts_quote_the_claim_in_full():
    from sparsebench.reports.page import verdict_rows

    wording = "SSL achieves on average 5.1X and 3.1X speedups of convolutional layer computation"
    c = _claim(setup={**{k: "v" for k in ("network", "dataset", "sparsity", "hardware", "baseline")}, "wording": wording})
    v = claims.evaluate(c, [])
    assert v.wording == wording and wording in verdict_rows([v])[0][1]


def test_fractions_are_judged_at_a_hundredth_of_a_percent_and_inside_range_reads_so():
    """A top-K count rounded to whole elements gives 79.99996% at s = 0.8: that is the claimed
    80%, not a miss; a median inside a range with one layer just outside says exactly that."""
    from sparsebench.claims.evaluate import _judge

    at_least = _claim(metric="flop_reduction", value=0.8, measure={"comparison": "flop_reduction"})
    assert _judge(at_least, 0.7999996, [0.7999996, 0.8000001]) == ("reproduced", "")
    assert _judge(at_least, 0.7998, [0.7998])[0] != "reproduced"
    within = _claim(metric="flop_reduction", value=0.9, range=[0.5, 0.9], expect="within",
                    measure={"comparison": "flop_reduction"})
    verdict, why = _judge(within, 0.85, [0.85, 0.93, 0.8])
    assert verdict == "partly" and why == "inside the paper's range overall; outside it on 1 of 3"
