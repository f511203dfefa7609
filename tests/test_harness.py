"""Catalogue, harness records and CLI (small cases only; no speed is asserted)."""

import json

import pytest

from sparsebench import catalogue, cli
from sparsebench import methods
from sparsebench.cases import BenchCase
from sparsebench.harness import run_cases
from sparsebench.harness.table import break_even, speedup_table
from sparsebench.measure import load_records

FRONT_END = [BenchCase("actgrad", "resnet-512x4", "actgrad", "front_end", p, 1) for p in (0.9, 0.99)]


def test_catalogue_holds_the_issue_grid():
    full = catalogue.profile("full")
    for name in ("resnet-64x32", "resnet-128x16", "resnet-256x8", "resnet-512x4",
                 "alexnet-conv3", "alexnet-conv4", "alexnet-conv5"):
        assert name in full.layers and catalogue.LAYERS[name].shape.n == 32
    # the issue grid plus 0.6, where block's break-even target lies
    assert full.sparsities == (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
    assert set(full.threads) == {1, 2}
    ids = [c.id for c in methods.cases("full")]
    assert len(ids) == len(set(ids))
    assert not any(c.scheme == "pattern" and catalogue.LAYERS[c.layer].kind == "linear" for c in methods.cases("full"))
    with pytest.raises(ValueError, match="unknown profile"):
        catalogue.profile("nope")


def test_run_writes_records_with_context(tmp_path):
    path = run_cases(FRONT_END, out=tmp_path / "r.json", rounds=3)
    recs = load_records(path)
    assert recs[0]["kind"] == "machine" and recs[0]["machine"]["kernels"]["chosen"]
    stage = [r for r in recs if r["kind"] == "stage"]
    assert {(r["case"]["sparsity"], r["case"]["impl"]) for r in stage} == {
        (p, i) for p in (0.9, 0.99) for i in ("sparsebench", "torch-reference")}
    for r in stage:
        m = r["metrics"]
        assert m["median_s"] > 0 and m["iqr_s"] >= 0 and m["gbytes_per_s"] > 0
        assert 0.0 <= m["sparsity_reached"] <= 1.0
        assert r["machine"]["isa"] and r["machine"]["threads"] == 1
    assert "front_end" in speedup_table(recs)


def test_interrupted_run_keeps_what_was_measured(tmp_path):
    calls = []

    def progress(i, n, case):
        calls.append(i)
        if i == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_cases(FRONT_END, out=tmp_path / "r.json", rounds=3, progress=progress)
    recs = load_records(tmp_path / "r.json")
    assert [r["case"]["sparsity"] for r in recs if r["kind"] == "stage"] == [0.9, 0.9]


def test_unavailable_cases_are_recorded_not_fatal(tmp_path):
    case = BenchCase("weight_sparse", "linear-1024", "no-such-scheme", "forward", 0.9, 1)
    recs = load_records(run_cases([case], out=tmp_path / "r.json", rounds=3))
    assert recs[-1]["kind"] == "unavailable" and "no-such-scheme" in recs[-1]["metrics"]["reason"]


def test_break_even():
    assert break_even({0.0: 0.5, 0.5: 0.9, 0.7: 1.1, 0.9: 3.0}) == 0.7
    assert break_even({0.0: 0.5, 0.9: 0.8}) is None
    assert break_even({0.5: 1.2, 0.7: 0.9, 0.9: 2.0}) == 0.9


def test_cli_info_json(capsys):
    assert cli.main(["info", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kernels"]["chosen"] in out["kernels"]["usable"]
    assert out["machine_id"] and "/" not in out["machine_id"]  # usable as asv's --machine and a folder
    assert out["machine"]["cpu"]["brand"]


def test_cli_info_text(capsys):
    assert cli.main(["info"]) == 0
    text = capsys.readouterr().out
    assert "chosen:" in text and "OpenMP" in text


def test_cli_run_list(capsys):
    assert cli.main(["run", "--profile", "quick", "--suite", "actgrad", "--list"]) == 0
    assert "actgrad/" in capsys.readouterr().out


def test_cli_table_skips_corrupted_files(tmp_path, capsys):
    run_cases(FRONT_END[:1], out=tmp_path / "good.json", rounds=3)
    (tmp_path / "bad.json").write_text('{"schema": 1, "records": [')
    assert cli.main(["table", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "bad.json" in captured.err and "front_end" in captured.out


def test_pytest_benchmark_json_becomes_records(tmp_path):
    from sparsebench.harness.pytest_bench import convert

    case = BenchCase("weight_sparse", "linear-1024", "unstructured", "forward", 0.9, 1)
    bench_json = {
        "machine_info": {"machine": "x86_64", "cpu": {"brand_raw": "Test CPU", "count": 2}},
        "commit_info": {"id": "abc", "dirty": False},
        "benchmarks": [
            {"group": case.id, "stats": {"median": m, "iqr": 0.0, "rounds": 5},
             "extra_info": {"case": case.to_dict(), "impl": impl, "dense_flops": 100, "effective_flops": 10}}
            for impl, m in (("sparsebench", 0.001), ("torch-dense", 0.004))
        ],
    }
    src = tmp_path / "b.json"
    src.write_text(json.dumps(bench_json))
    assert convert(src, tmp_path / "out.json") == 2
    recs = {r["case"]["impl"]: r for r in load_records(tmp_path / "out.json")}
    assert recs["sparsebench"]["metrics"]["speedup_vs_torch_dense"] == pytest.approx(4.0)
    assert recs["sparsebench"]["metrics"]["efficiency"] == pytest.approx(0.4)
    assert recs["sparsebench"]["machine"]["commit"] == "abc"
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json"):
        convert(tmp_path / "bad.json", tmp_path / "x.json")


@pytest.mark.parametrize("scheme", ["unstructured", "block", "pattern", "filter"])
def test_weight_sparse_case_measures_ours_and_both_baselines(tmp_path, scheme):
    stages = ("forward", "weight_grad_sampled") if scheme == "unstructured" else ("backward_data",)
    cases = [BenchCase("weight_sparse", "resnet-512x4", scheme, st, 0.9, 1) for st in stages]
    recs = load_records(run_cases(cases, out=tmp_path / "r.json", rounds=2, peers=False))
    assert not [r for r in recs if r["kind"] in ("error", "unavailable")], recs[-1]
    stage = [r for r in recs if r["kind"] == "stage"]
    # torch-dense in both layouts (issue 13), the speedups against the faster one, memory from a fresh child
    assert {r["case"]["impl"] for r in stage} == {"sparsebench", "torch-dense", "torch-dense-channels_last",
                                                  "torch-sparse"}
    for r in stage:
        m = r["metrics"]
        assert m["baseline_layout"] in ("nchw", "channels_last")
        assert m["memory_method"].startswith("fresh child") and m["peak_delta_bytes"] is not None
        assert m["dense_flops"] > m["effective_flops"] > 0
        assert m["flop_reduction"] == pytest.approx(m["dense_flops"] / m["effective_flops"])
        recorded = ("speedup_vs_torch_dense", "tensor_bytes")  # present and positive (no speed target)
        assert all(m[k] > 0 for k in recorded)
        assert abs(m["sparsity_reached"] - 0.9) < 0.02


def test_break_even_label_says_when_only_an_upper_bound_is_known():
    from sparsebench.harness.table import break_even_label

    assert break_even_label({0.9: 2.0}) == "<=0.90"
    assert break_even_label({0.5: 0.8, 0.9: 2.0}) == "0.90"
    assert break_even_label({0.0: 1.0, 0.9: 2.0}) == "0.00"
    assert break_even_label({0.9: 0.5}) == "-"


@pytest.mark.parametrize("layer", ["resnet-512x4", "linear-1024"])
def test_actgrad_backward_stages_measure_method_and_exact_density(tmp_path, layer):
    cases = [BenchCase("actgrad", layer, scheme, "backward", 0.9, 1) for scheme in ("actgrad", "actgrad-exact")]
    recs = load_records(run_cases(cases, out=tmp_path / "r.json", rounds=2))
    assert not [r for r in recs if r["kind"] in ("error", "unavailable")], recs[-1]
    ours = {r["case"]["scheme"]: r["metrics"] for r in recs if r["kind"] == "stage" and r["case"]["impl"] == "sparsebench"}
    # stochastic pruning promotes small values to +-tau: far fewer zeros than p
    assert 0.4 < ours["actgrad"]["sparsity_reached"] < 0.65
    assert abs(ours["actgrad-exact"]["sparsity_reached"] - 0.9) < 0.01
    for m in ours.values():
        assert m["dense_flops"] > m["effective_flops"] > 0
        assert all(m[k] > 0 for k in ("speedup_vs_torch_dense",))  # recorded, not a target


@pytest.mark.parametrize("case", [
    BenchCase("weight_sparse", "resnet-512x4", "block", "update", 0.9, 1),
    BenchCase("weight_sparse", "linear-1024", "filter", "forward", 0.9, 1),
    BenchCase("actgrad", "resnet-512x4", "actgrad", "front_end", 0.9, 1),
    BenchCase("actgrad", "linear-1024", "actgrad-exact", "weight_grad", 0.9, 1),
], ids=lambda c: c.id)
def test_impl_names_match_what_build_times(case):
    from sparsebench.methods import build, impl_names

    assert set(build(case).impls) == set(impl_names(case))
