"""The asv suites come from the catalogue and run one case end to end (no asv process needed)."""

import importlib.util
import pathlib

import pytest

from sparsebench import catalogue
from sparsebench.formats import available_formats
from sparsebench.methods import all_methods, get_method
from sparsebench.methods.static_mask.bench import STAGES as WEIGHT_STAGES

SUITES = pathlib.Path(__file__).resolve().parents[1] / "suites" / "stages.py"


@pytest.fixture(scope="module")
def stages():
    spec = importlib.util.spec_from_file_location("asv_stages", SUITES)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_params_come_from_the_catalogue(stages):
    quick = stages.QuickStaticMask
    layers, schemes, stage_names, sparsities, threads, impls = quick.params
    prof = catalogue.profile("quick")
    assert layers == sorted(prof.layers) and sparsities == sorted(prof.sparsities)
    assert set(stage_names) == set(WEIGHT_STAGES) and set(schemes) == set(available_formats())
    assert quick.param_names == ["layer", "scheme", "stage", "sparsity", "threads", "impl"]
    assert set(stages.FullStaticMask.params[0]) == set(catalogue.LAYERS)


def test_one_case_sets_up_times_and_tracks(stages):
    bench = stages.QuickStaticMask()
    params = ("linear-1024", "block", "forward", 0.9, 1, "sparsebench")
    bench.setup(*params)
    try:
        bench.time_stage(*params)
        assert bench.track_ns_per_effective_madd(*params) > 0
        assert bench.track_peak_delta_bytes(*params) >= 0
    finally:
        bench.teardown(*params)


def test_inapplicable_combinations_are_skipped(stages):
    bench = stages.QuickStaticMask()
    with pytest.raises(NotImplementedError):
        bench.setup("linear-1024", "pattern", "forward", 0.9, 1, "sparsebench")
    bench.teardown()  # asv calls teardown after a skipped setup too
    with pytest.raises(NotImplementedError):
        bench.setup("linear-1024", "block", "update", 0.9, 1, "torch-sparse")


def test_environment_selects_a_sub_grid(monkeypatch, stages):
    monkeypatch.setenv(stages.SELECT_ENV, "layer=resnet-128x16;scheme=unstructured;impl=sparsebench,torch-dense")
    params = stages._params(catalogue.profile("quick"), get_method("static_mask"))
    assert params[0] == ["resnet-128x16"] and params[1] == ["unstructured"]
    assert params[5] == ["sparsebench", "torch-dense"] and params[3] == sorted(catalogue.profile("quick").sparsities)


def test_smoke_grid_is_small_and_from_the_catalogue(stages):
    import math

    smoke = catalogue.PROFILES["smoke"]
    # one smoke class per method with benchmark cases (a suite), none named in the suites
    benched = [m for m, meth in all_methods().items() if meth.suite]
    classes = [getattr(stages, "Smoke" + "".join(w.capitalize() for w in m.split("_"))) for m in benched]
    assert len(classes) == len(benched) >= 2
    assert not any(hasattr(stages, "Smoke" + "".join(w.capitalize() for w in m.split("_")))
                   for m in set(all_methods()) - set(benched))
    for cls in classes:
        assert cls.params[0] == list(smoke.layers) and math.prod(len(p) for p in cls.params) <= 64
