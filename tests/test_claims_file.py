"""suites/claims.toml loads, validates, and holds every claim the seed papers make."""

import sys
from pathlib import Path

import pytest

from sparsebench import claims
from sparsebench import methods
from sparsebench.methods.actgrad.bench import STAGES as ACTGRAD_STAGES
from sparsebench.methods.static_mask.bench import STAGES as WEIGHT_STAGES

REQUIRED = {
    "actgrad-cpu-training-3.99x", "actgrad-arm-training-5.92x", "actgrad-backprop-up-to-5.92x",
    "ssl-alexnet-conv-cpu-5.1x", "ssl-alexnet-conv-gpu-3.1x", "ssl-alexnet-unstructured-0.2-1.4x",
    "terngrad-communication-1/16", "swat-training-flops-50-90pct", "swat-activation-memory-23-50pct",
    "mest-structured-schemes-beat-unstructured", "l1-filter-vgg16-flops-34pct", "l1-filter-resnet110-flops-38pct",
}


@pytest.fixture(scope="module")
def loaded():
    return {c.id: c for c in claims.load_claims()}


def test_every_required_claim_is_present_and_well_formed(loaded):
    assert REQUIRED <= set(loaded)
    for c in loaded.values():
        assert c.metric in claims.METRICS and c.setup["wording"] and c.setup["hardware"]
        assert c.value is not None or c.todo


def test_claims_carry_the_papers_numbers_and_setups(loaded):
    assert loaded["actgrad-cpu-training-3.99x"].value == 3.99
    assert loaded["actgrad-arm-training-5.92x"].measure.arch == "aarch64"
    # both wordings of the 5.92x figure (anchors.md)
    assert "back-propagation stage" in loaded["actgrad-backprop-up-to-5.92x"].setup["wording"]
    assert "ARM" in loaded["actgrad-arm-training-5.92x"].setup["wording"]
    # issue 17: SSL is measured on its own suite (the paper's per-layer AlexNet plan, a stand-in)
    ssl = loaded["ssl-alexnet-conv-cpu-5.1x"]
    assert ssl.implemented and ssl.setup["wording"].startswith(
        "SSL achieves on average 5.1X and 3.1X speedups of convolutional layer computation of AlexNet against "
        "CPU and GPU, respectively, with off-the-shelf libraries")
    assert ssl.measure.suite == "ssl" and ssl.measure.schemes == ("ssl-paper",)
    assert set(ssl.measure.layers) == {f"alexnet-conv{i}" for i in range(1, 6)}
    assert loaded["ssl-alexnet-twice-non-structured"].measure.versus == "unstructured-csr"
    # actgrad verdicts come from the captured-gradient rows
    assert all(c.measure.schemes == ("actgrad-captured",) for c in loaded.values()
               if c.method == "actgrad" and c.measure.comparison == "stage_time_sum")
    assert loaded["ssl-alexnet-unstructured-0.2-1.4x"].range == (0.2, 1.4)
    assert loaded["ssl-alexnet-conv-gpu-3.1x"].measure.device == "gpu"
    assert loaded["terngrad-communication-1/16"].value == 16.0
    assert loaded["swat-activation-memory-23-50pct"].range == (0.23, 0.5)
    assert loaded["l1-filter-vgg16-flops-34pct"].value == 0.34
    assert loaded["l1-filter-resnet110-flops-38pct"].value == 0.38
    mest = loaded["mest-structured-schemes-beat-unstructured"].measure
    assert set(mest.schemes) == {"block", "pattern"} and mest.versus == "unstructured"


def test_unimplemented_methods_are_kept_and_reported_not_measured(loaded):
    for cid in ("ssl-alexnet-conv-gpu-3.1x",):
        assert not loaded[cid].implemented
        v = claims.evaluate(loaded[cid], [])
        assert v.verdict == "not measured" and "not measured yet" in v.note
    # implemented, but the claim itself has no number yet: said so, not "not implemented"
    v = claims.evaluate(loaded["mest-accuracy-vs-sparsity"], [])
    assert v.verdict == "not measured" and "no number yet" in v.note and "not implemented" not in v.note


def test_implemented_claims_name_catalogue_cases(loaded):
    from sparsebench import catalogue

    for c in loaded.values():
        if c.implemented and c.measure.comparison != "accuracy_delta":  # training runs, not catalogue cases
            m = c.measure
            if m.suite is None:  # judged by its method's own comparison (counted FLOPs, an experiment)
                assert not m.layers and not m.stages, c.id
                continue
            assert m.suite in methods.suites()
            assert set(m.layers) <= set(catalogue.LAYERS)
            assert set(m.stages) <= set(WEIGHT_STAGES) | set(ACTGRAD_STAGES)


def _data(**over):
    claim = {"id": "x", "paper": "p", "method": "m", "metric": "stage_speedup", "value": 2.0, "implemented": True,
             "setup": {k: "v" for k in ("network", "dataset", "sparsity", "hardware", "baseline", "wording")},
             "measure": {"suite": "weight_sparse", "schemes": ["block"], "stages": ["forward"], "sparsity": 0.9,
                         "comparison": "stage_time_sum"}}
    claim.update(over)
    return {"claim": [claim]}


@pytest.mark.parametrize("over, field", [
    ({"metric": "speed"}, "metric"),
    ({"value": "fast"}, "value"),
    ({"implemented": "yes"}, "implemented"),
    ({"range": [3, 1]}, "range"),
    ({"setup": {"network": "n"}}, "setup.baseline"),
    ({"measure": {"comparison": "vibes"}}, "measure.comparison"),
    ({"measure": {"comparison": "stage_time_sum", "suite": "weight_sparse", "schemes": ["block"],
                  "stages": ["forward"]}}, "measure.sparsity"),
    ({"colour": "red"}, "colour"),
])
def test_validation_names_claim_and_field(over, field):
    with pytest.raises(ValueError, match=f"claim 'x': field '{field}'"):
        claims.parse_claims(_data(**over))


def test_duplicate_ids_and_bad_files(tmp_path):
    d = _data()
    d["claim"].append(dict(d["claim"][0]))
    with pytest.raises(ValueError, match="used twice"):
        claims.parse_claims(d)
    with pytest.raises(FileNotFoundError):
        claims.load_claims(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[claim]\nid = ")
    with pytest.raises(ValueError, match="not valid TOML"):
        claims.load_claims(bad)


def test_file_ships_in_the_claims_package_and_a_path_overrides_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # found wherever the command runs (an installed wheel has no repo)
    assert claims.find_claims_file() == Path(claims.__file__).parent / "claims.toml"
    own = tmp_path / "mine.toml"
    own.write_text('[[claim]]\nid = "only"\n')
    assert claims.find_claims_file(own) == own
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        claims.find_claims_file(tmp_path / "nope.toml")


def test_old_python_without_tomli_gets_a_clear_error(monkeypatch):
    monkeypatch.setattr(sys, "version_info", (3, 10, 0))
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(RuntimeError, match="tomli"):
        claims.data._toml_module()
