"""The roofline: the run measures its roofs (dense GEMM rate, copy bandwidth) per thread count, and
the report draws every stage record under them."""

import pytest

import synthetic_records as synthetic
from sparsebench.measure.roofs import machine_roofs
from sparsebench.reports import plots


def test_roofs_are_positive_rates_at_the_thread_count_asked():
    roofs = machine_roofs(1)
    assert roofs["threads"] == 1 and roofs["gemm_gflops"] > 0 and roofs["copy_gbps"] > 0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_roofs_refuse_a_bad_thread_count(bad):
    with pytest.raises(ValueError, match="threads"):
        machine_roofs(bad)


def _roofs_record(threads, gemm, copy):
    return {"schema": 1, "kind": "roofs", "case": {}, "metrics": {"threads": threads, "gemm_gflops": gemm,
            "copy_gbps": copy}, "machine": synthetic.machine_compact("x86", threads), "created": synthetic.CREATED}


def test_the_roofs_are_the_median_of_the_runs_for_that_machine_and_thread_count():
    machine = synthetic.machine_compact("x86")["id"]
    recs = [_roofs_record(1, 100.0, 10.0), _roofs_record(1, 80.0, 20.0), _roofs_record(1, 90.0, 30.0),
            _roofs_record(2, 1000.0, 1000.0)]
    assert plots._roofs(recs, machine, 1) == {"gemm_gflops": 90.0, "copy_gbps": 20.0}
    assert plots._roofs(recs, machine, 4) is None


def test_roofline_draws_one_figure_per_suite_and_says_when_no_roofs_were_measured(tmp_path):
    recs = synthetic.suite_records("x86")
    stage = [r for r in recs if r["kind"] == "stage"]
    machine = synthetic.machine_compact("x86")["id"]
    info = {"isa": {"avx512"}, "commit": {"0123456789ab"}, "threads": {1}, "cpu": "x", "arch": "x86_64",
            "torch": {"2.13.0"}}
    with_roofs = plots.roofline(stage, [*recs, _roofs_record(1, 100.0, 15.0)], machine, info, 1, tmp_path)
    assert {name for name, _ in with_roofs} == {f"roofline-{plots._slug(machine)}-t1-{s}.png"
                                                for s in ("weight_sparse", "actgrad")}
    assert all((tmp_path / name).stat().st_size > 0 for name, _ in with_roofs)
    assert not any("no roofs" in cap for _, cap in with_roofs)
    without = plots.roofline(stage, recs, machine, info, 1, tmp_path)
    assert without and all("no roofs measured" in cap for _, cap in without)
