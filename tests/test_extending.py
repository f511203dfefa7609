"""Adding a method or a format touches only its own package: the example packages in
tests/examples/ are put beside the real ones (as if copied into src/sparsebench/methods/ or
formats/) and every enumerating part of sparsebench picks them up with no other change."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from sparsebench import catalogue, formats, methods, registry
from sparsebench.cases import OURS
from sparsebench.formats.modules import SparseConv2d, SparseLinear
from sparsebench.harness import run_cases
from sparsebench.measure import load_records

EXAMPLES = Path(__file__).resolve().parent / "examples"


@pytest.fixture
def extended(monkeypatch):
    """The example packages on the formats' and methods' search paths, registries rebuilt."""
    monkeypatch.setattr(formats, "__path__", [*formats.__path__, str(EXAMPLES / "formats")])
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(EXAMPLES / "methods")])
    monkeypatch.setattr(formats, "_FORMATS", {})
    monkeypatch.setattr(methods, "_METHODS", {})
    yield
    # the next test rebuilds the registries from the real packages only
    formats._FORMATS.clear()
    methods._METHODS.clear()


def test_a_new_format_is_one_folder(extended):
    assert "rows" in formats.available_formats()
    fmt = formats.get_format("rows")
    # SparseConv2d / SparseLinear train on it, matching the masked dense layer
    torch.manual_seed(0)
    conv = SparseConv2d(4, 8, 3, 2, 1, scheme="rows", sparsity=0.5)
    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    y = conv(x)
    w = conv.dense_weight().requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    ref = F.conv2d(x2, w, conv.bias, stride=2, padding=1)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(y)
    y.backward(g)
    ref.backward(g)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-5, atol=1e-5)
    # a mask update through the generic rebuild keeps survivors and the kept count
    before = conv.sw.nnz
    conv.prune_grow(0.25, generator=torch.Generator().manual_seed(1))
    assert conv.sw.nnz == before
    lin = SparseLinear(6, 4, scheme="rows", sparsity=0.5)
    assert lin(torch.randn(3, 6)).shape == (3, 4)
    # the static-mask method benchmarks it on every layer it accepts, and the harness runs it
    cases = [c for c in methods.cases("quick") if c.scheme == "rows"]
    assert {c.stage for c in cases} >= {"forward", "backward_data", "weight_grad_sampled", "mask_update"}
    assert fmt.accepts(catalogue.LAYERS["linear-1024"].shape.weight_shape)


def test_the_harness_runs_a_new_formats_cases(extended, tmp_path):
    case = next(c for c in methods.cases("quick") if c.scheme == "rows" and c.stage == "forward" and c.sparsity > 0)
    recs = load_records(run_cases([case], out=tmp_path / "r.json", rounds=2, peers=False))
    ours = [r for r in recs if r["kind"] == "stage" and r["case"]["impl"] == OURS]
    assert ours and math.isfinite(ours[0]["metrics"]["speedup_vs_torch_dense"])  # recorded, not a target


def test_a_new_method_is_one_folder(extended, tmp_path):
    toy = methods.get_method("toy_dense")
    assert "toy_dense" in methods.suites()
    cases = [c for c in methods.cases("quick") if c.suite == "toy_dense"]
    assert {c.layer for c in cases} == set(catalogue.profile("quick").layers)
    recs = load_records(run_cases(cases[:1], out=tmp_path / "r.json", rounds=2, peers=False))
    assert {r["case"]["impl"] for r in recs if r["kind"] == "stage"} == set(toy.impl_names(cases[0]))
    # the accuracy runs and the asv suites enumerate it too
    from sparsebench.accuracy.runs import accuracy_cases

    assert any(c.method == "toy_dense" for c in accuracy_cases("digits"))
    spec = importlib.util.spec_from_file_location("asv_stages_ext", Path(__file__).resolve().parents[1] / "suites"
                                                  / "stages.py")
    suites = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suites)
    assert suites.SmokeToyDense.suite == "toy_dense"


def test_the_cross_validation_registry_finds_ops_by_walking_packages():
    owners = registry.owners()
    assert set(formats.available_formats()) <= set(owners)
    # every method package with an ops module (those with kernels; network surgery has none) owns ops
    with_ops = {name for name in methods.all_methods()
                if importlib.util.find_spec(f"sparsebench.methods.{name}.ops") is not None}
    assert with_ops - {"static_mask"} and with_ops <= set(owners)


def test_a_method_brings_its_own_claim_measures(extended):
    from sparsebench import claims

    claim = {"id": "toy", "paper": "p", "method": "toy_dense", "metric": "stage_speedup", "value": 1.0,
             "implemented": True,
             "setup": {k: "v" for k in ("network", "dataset", "sparsity", "hardware", "baseline", "wording")},
             "measure": {"suite": "toy_dense", "comparison": "toy_forward_count"}}
    (parsed,) = claims.parse_claims({"claim": [claim]})
    rec = {"kind": "stage", "case": {"suite": "toy_dense"}}
    v = claims.evaluate(parsed, [rec, rec])
    assert (v.measured, v.verdict) == ("2", "different setup")
