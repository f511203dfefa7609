"""`sparsebench validate` / `report` commands: case selection per claim, exit codes, saved verdicts.
The harness is replaced by a fake that writes synthetic records: no kernel runs here."""

import argparse
import json

import pytest

from sparsebench import claims, harness
from sparsebench.measure import ResultStore
from sparsebench.claims import cli as claims_cli
from sparsebench.reports import cli
import synthetic_records as synthetic
from sparsebench.claims.validate import cases_for, select
from sparsebench.claims import validate as validate_mod


@pytest.fixture(scope="module")
def all_claims():
    return {c.id: c for c in claims.load_claims()}


def _parser():
    p = argparse.ArgumentParser(prog="sparsebench")
    sub = p.add_subparsers(dest="command", required=True)
    cli.add_commands(sub)
    claims_cli.add_commands(sub)
    return p


def _main(argv):
    args = _parser().parse_args(argv)
    return args.func(args)


def test_network_claims_and_curves_add_whole_network_runs(all_claims):
    from sparsebench.catalogue import CURVES, QUICK_NETWORKS

    runs_ = validate_mod.network_runs_for(all_claims["actgrad-cpu-training-3.99x"], "quick")
    assert runs_ and {r["model"] for r in runs_} <= set(QUICK_NETWORKS) and all(r["sparsity"] == 0.9 for r in runs_)
    assert validate_mod.network_runs_for(all_claims["ssl-alexnet-conv-cpu-5.1x"], "quick") == []
    curves = validate_mod.curve_cases("quick")
    assert {c.sparsity for c in curves} == set(CURVES["quick"].sparsities) and len({c.layer for c in curves}) == 2
    assert {r["sparsity"] for r in validate_mod.curve_runs("quick")} == set(CURVES["quick"].sparsities)


def test_cases_follow_each_claims_measure_spec(all_claims):
    # issue 17: SSL's claim runs its own suite's cases, all five AlexNet layers even in quick
    ssl = cases_for(all_claims["ssl-alexnet-conv-cpu-5.1x"], "quick")
    assert [c.id for c in ssl] == [f"ssl/alexnet-conv{i}/ssl-paper/forward/s0.67/t1" for i in range(1, 6)]
    full = cases_for(all_claims["ssl-alexnet-conv-cpu-5.1x"], "full")
    assert {c.layer for c in full} == {f"alexnet-conv{i}" for i in range(1, 6)} and {c.threads for c in full} == {1, 2}
    step = cases_for(all_claims["actgrad-cpu-training-3.99x"], "quick")
    assert {(c.suite, c.stage) for c in step} == {("actgrad", "backward"), ("weight_sparse", "forward")}
    mest = cases_for(all_claims["mest-structured-schemes-beat-unstructured"], "quick")
    assert {c.scheme for c in mest} == {"block", "pattern", "unstructured"}
    assert not any(c.scheme == "pattern" and c.layer == "linear-1024" for c in mest)
    assert cases_for(all_claims["terngrad-communication-1/16"]) == []
    ids = [c.id for c in select(list(all_claims.values()))]
    assert len(ids) == len(set(ids)) and ids


@pytest.fixture(autouse=True)
def _no_training(monkeypatch):
    """validate's accuracy claims train small CNNs; here they get fixed numbers instead."""
    from sparsebench.accuracy import runs
    from sparsebench.measure import make_record

    def fake(cases, out, progress=None):
        recs = [make_record("accuracy", {"method": c.method, "scheme": c.scheme, "sparsity": c.sparsity,
                                         "dataset": c.dataset, "id": c.id},
                            {"accuracy": 0.95 - 0.01 * c.sparsity, "loss_curve": [2.0, 1.0]},
                            synthetic.machine_compact("x86")) for c in cases]
        ResultStore(out).extend(recs)
        return out

    monkeypatch.setattr(runs, "run_accuracy", fake)

    def fake_networks(runs_, out, progress=None):
        """whole-network runs get fixed synthetic train records instead."""
        ResultStore(out).extend([synthetic.train_record("x86", r["model"], r["method"], r.get("scheme") or r["method"],
                                                        r["sparsity"], 1.2) for r in runs_])

    monkeypatch.setattr(validate_mod, "run_networks", fake_networks)

    def fake_memory(out, **kw):
        """MEST's memory claim runs fresh processes; here it gets fixed mest_memory records."""
        rows = [("dense", 0.0, 600), *[(impl, s, mb) for s in (0.5, 0.9) for impl, mb in
                                       (("masked-dense", 800), ("mest", 400 if s == 0.5 else 100))]]
        ResultStore(out).extend([make_record("mest_memory", {"model": "mlp", "impl": i, "scheme": "unstructured",
                                                             "sparsity": s, "threads": 1, "id": f"{i}/{s}"},
                                             {"peak_bytes": mb * 2**20}, synthetic.machine_compact("x86"))
                                 for i, s, mb in rows])
        return out

    from sparsebench.methods.mest import claims as mest_claims

    monkeypatch.setattr(mest_claims, "run_memory", fake_memory)

    def fake_merging(dataset="digits", epochs=12, finetune_epochs=2, fractions=(0.5,), seed=0, data=None):
        """merging's claim trains small networks (methods/merging/experiment.py); fixed rows here."""
        return [{"scheme": f"cnn/conv2/{v}", "sparsity": 0.5, "accuracy": a, "dataset": dataset, "seed": seed,
                 "epochs": epochs} for v, a in (("prune", 0.90), ("merge", 0.92))]

    from sparsebench.methods.merging import experiment as merging_experiment

    monkeypatch.setattr(merging_experiment, "run", fake_merging)


def _fake_run(records):
    def run_cases(cases, *, results_dir, out=None, rounds=7, progress=None, **options):
        path = out or results_dir / synthetic.MACHINES["x86"]["id"] / "20250101T000000Z-fake.json"
        store = ResultStore(path)
        for i, case in enumerate(cases):
            if progress:
                progress(i, len(cases), case)
        store.extend(records)
        return path
    return run_cases


def test_validate_prints_and_saves_verdicts_exit_0(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(harness, "run_cases", _fake_run(synthetic.suite_records("x86")))
    rc = _main(["validate", "--results", str(tmp_path), "--quiet"])
    assert rc == 0
    out = capsys.readouterr().out
    # issue 17: SSL is implemented; these synthetic records hold no ssl-suite case, so its row reads
    # "not measured"; the L1 FLOP rows are counted from the model definitions (reproduced)
    assert "ssl-alexnet-conv-cpu-5.1x" in out and "not measured" in out and "different setup" in out
    ssl_line = next(line for line in out.splitlines() if line.startswith("ssl-alexnet-conv-cpu-5.1x "))
    assert "not measured" in ssl_line
    l1 = next(line for line in out.splitlines() if line.startswith("l1-filter-vgg16-flops-34pct"))
    assert "reproduced" in l1
    md = next(tmp_path.rglob("*-verdicts.md")).read_text()
    assert "| terngrad-communication-1/16 |" in md


def test_validate_exit_0_when_nothing_reproduces(tmp_path, monkeypatch):
    slow = synthetic.suite_records("x86", speedup=lambda *a: 0.5)
    monkeypatch.setattr(harness, "run_cases", _fake_run(slow))
    assert _main(["validate", "--results", str(tmp_path), "--quiet"]) == 0


def test_validate_nonzero_when_the_run_fails(tmp_path, monkeypatch, capsys):
    def broken(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(harness, "run_cases", broken)
    assert _main(["validate", "--results", str(tmp_path), "--quiet"]) == 1
    assert "disk full" in capsys.readouterr().err
    assert _main(["validate", "--claim", "no-such-claim"]) == 2


def test_interrupted_validate_keeps_records_and_verdicts(tmp_path, monkeypatch):
    def interrupted(cases, *, results_dir, out=None, rounds=7, progress=None):
        # validate names its records file before measuring; the run writes there, then stops
        ResultStore(out).extend(synthetic.suite_records("x86", layers=("alexnet-conv4",), rates=()))
        raise KeyboardInterrupt
    monkeypatch.setattr(harness, "run_cases", interrupted)
    assert _main(["validate", "--results", str(tmp_path), "--quiet"]) == 130
    [verdicts] = list(tmp_path.rglob("*-verdicts.md"))
    records = verdicts.with_name(verdicts.name.replace("-verdicts.md", ".json"))
    assert json.loads(records.read_text())["records"]
    assert "(interrupted)" in verdicts.read_text()


def test_validate_list_and_report_command(tmp_path, capsys):
    assert _main(["validate", "--list", "--claim", "ssl-alexnet-conv-cpu-5.1x"]) == 0
    assert capsys.readouterr().out.split() == [f"ssl/alexnet-conv{i}/ssl-paper/forward/s0.67/t1" for i in range(1, 6)]
    recs = [r for r in synthetic.suite_records("x86", layers=("linear-1024",), sparsities=(0.9,), rates=())
            if r["kind"] == "machine" or r["case"]["stage"] == "forward"]
    (tmp_path / "r.json").write_text(json.dumps({"schema": 1, "records": recs}))
    assert _main(["report", str(tmp_path / "r.json"), "--out-dir", str(tmp_path / "rep"), "--name", "x"]) == 0
    assert (tmp_path / "rep" / "x" / "index.html").is_file()


def test_quick_profile_measures_every_layer_of_an_averaged_claim():
    """SSL's 5.1x is an average over AlexNet conv1-conv5: the quick profile must not cut it to
    the one layer it shares (conv4 alone read 'reproduced' where all five read 'partly')."""
    from sparsebench import claims as claims_mod
    from sparsebench.claims.validate import cases_for

    loaded = {c.id: c for c in claims_mod.load_claims()}
    ssl = loaded["ssl-alexnet-conv-cpu-5.1x"]
    assert ssl.measure.all_layers
    assert {c.layer for c in cases_for(ssl, "quick")} == {f"alexnet-conv{i}" for i in range(1, 6)}
    actgrad = loaded["actgrad-cpu-backward-3.99x"]  # not averaged-by-construction: quick keeps its cut
    assert len({c.layer for c in cases_for(actgrad, "quick")}) < len(actgrad.measure.layers)
