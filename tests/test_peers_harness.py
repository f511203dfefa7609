"""Peer baselines in the harness: a crashing, hanging or missing peer is recorded as the case's
result and the run goes on (faults injected into the child, so this runs without SparseProp);
catalogue stages "backward" / "step"; the table's peer column; the asv impl parameter."""

import pytest

from sparsebench import catalogue
from sparsebench.methods.static_mask.bench import STAGES as WEIGHT_STAGES
from sparsebench import methods
from sparsebench.cases import BenchCase
from sparsebench.harness import run_cases
from sparsebench.harness.table import speedup_table
from sparsebench.measure import dense_flops, effective_flops, load_records
from sparsebench.peers import applies
from sparsebench.peers.sparseprop import status
from sparsebench.runners.child import FAULT_ENV, ChildFailure as PeerFailure, ChildRunner


def PeerRunner(**kw):
    return ChildRunner("sparsebench.peers.sparseprop", **kw)

LINEAR = [BenchCase("weight_sparse", "linear-1024", "unstructured", stage, 0.9, 1)
          for stage in ("forward", "backward")]


def test_catalogue_has_backward_and_step_and_peers_apply_where_defined():
    assert {"backward", "step"} <= set(WEIGHT_STAGES)
    shape = catalogue.LAYERS["resnet-128x16"].shape
    assert dense_flops(shape, "backward") == dense_flops(shape, "backward_data") + dense_flops(shape, "weight_grad")
    assert dense_flops(shape, "step") == dense_flops(shape, "forward") + dense_flops(shape, "backward")
    assert effective_flops(shape, "step", weight_density=0.1, sampled=True) == pytest.approx(0.1 * dense_flops(shape, "step"), rel=1e-6)
    cases = methods.cases("full", ("weight_sparse",))
    peer = [c for c in cases if applies(c)]
    assert {c.stage for c in peer} == {"forward", "backward", "step"}
    assert {c.scheme for c in peer} == {"unstructured"}
    # every conv and linear layer SparseProp's kernels support (not AlexNet conv1's stride 4)
    from sparsebench.peers.sparseprop import supports

    held = {name for name, layer in catalogue.LAYERS.items() if supports(layer.shape) is None}
    assert {c.layer for c in peer} == held and "alexnet-conv1" not in held and len(held) >= len(catalogue.LAYERS) - 1
    assert {c.sparsity for c in peer} == set(catalogue.SPARSITIES)


def test_crash_is_a_result_and_the_next_case_gets_a_fresh_child(monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "segv")
    with PeerRunner(timeout_s=60) as runner:
        for case in LINEAR:
            with pytest.raises(PeerFailure) as info:
                runner.measure(case)
            assert info.value.status == "crash" and info.value.signal == "SIGSEGV" and info.value.returncode == -11
            assert case.id in str(info.value)


def test_hang_is_killed_after_the_time_limit(monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "hang")
    with PeerRunner(timeout_s=1.0) as runner:
        with pytest.raises(PeerFailure, match="no answer within") as info:
            runner.measure(LINEAR[0])
        assert info.value.status == "timeout"
        assert not runner._procs  # the hung child is gone


@pytest.mark.parametrize("fault,status_text", [("not-installed", "not installed"), ("import-error", "import error"),
                                               ("start-crash", "SIGSEGV")])
def test_run_records_peer_failures_and_keeps_our_results(tmp_path, monkeypatch, fault, status_text):
    monkeypatch.setenv(FAULT_ENV, fault)
    recs = load_records(run_cases(LINEAR, out=tmp_path / "r.json", rounds=3))
    for case in LINEAR:
        mine = [r for r in recs if r["case"].get("id") == case.id]
        assert {r["case"]["impl"] for r in mine if r["kind"] == "stage"} == {"sparsebench", "torch-dense",
                                                                              "torch-sparse"}
        (err,) = [r for r in mine if r["kind"] == "peer-error"]
        assert err["case"]["impl"] == "sparseprop" and err["metrics"]["error"]
    table = speedup_table(recs)
    assert "sparseprop" in table and status_text in table and "backward" in table


def test_no_peers_runs_no_child(tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "segv")
    recs = load_records(run_cases(LINEAR[:1], out=tmp_path / "r.json", rounds=3, peers=False))
    assert not [r for r in recs if r["case"].get("impl") == "sparseprop"]


def test_asv_impl_param_raises_not_implemented_without_sparseprop(monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    try:
        from suites import stages as suite
    finally:
        sys.path.pop(0)
    assert "sparseprop" in suite.QuickStaticMask.params[5]
    from sparsebench.peers import sparseprop as sp

    monkeypatch.setattr(sp, "status", lambda: {"installed": False, "version": None, "reason": "sparseprop not installed"})
    bench = suite.QuickStaticMask()
    with pytest.raises(NotImplementedError, match="not installed"):
        bench.setup("linear-1024", "unstructured", "forward", 0.9, 1, "sparseprop")
    with pytest.raises(NotImplementedError, match="no update stage|has no"):
        bench.setup("linear-1024", "unstructured", "update", 0.9, 1, "sparseprop")
    bench.teardown()


@pytest.mark.skipif(not status()["installed"], reason="sparseprop not installed (sparsebench peers install)")
def test_real_sparseprop_record_carries_its_own_ratio_and_the_same_mask(tmp_path):
    recs = load_records(run_cases(LINEAR[:1], out=tmp_path / "r.json", rounds=3))
    (sp,) = [r for r in recs if r["case"].get("impl") == "sparseprop"]
    assert sp["kind"] == "stage", sp["metrics"]
    m = sp["metrics"]
    assert m["same_mask"] and m["nnz_sparseprop"] == m["nnz_ours"] == m["nnz"]
    assert m["speedup_vs_torch_dense"] == pytest.approx(m["torch_dense_median_s"] / m["median_s"])
    assert m["omp_stacksize"] == "64M" and m["efficiency"] > 0
