"""Accuracy runs on offline digits: records, determinism, errors kept per case."""

import pytest
import torch

from sparsebench import cli
from sparsebench.accuracy import load
from sparsebench.accuracy.runs import AccuracyCase, accuracy_cases, run_accuracy, train
from sparsebench.measure import load_records


def test_digits_split_is_fixed_and_standardized():
    a, b = load("digits"), load("digits")
    assert torch.equal(a.y_test, b.y_test) and a.x_train.shape[1:] == (1, 8, 8)
    assert len(a.y_train) + len(a.y_test) == 1797
    assert abs(float(a.x_train.mean())) < 1e-4 and abs(float(a.x_train.std()) - 1) < 1e-3
    with pytest.raises(ValueError, match="unknown data set"):
        load("cifar")


def test_dense_training_learns_digits_and_is_deterministic():
    case = AccuracyCase("dense", "dense", 0.0, epochs=3)
    data = load("digits")
    m1, m2 = train(case, data), train(case, data)
    assert m1["accuracy"] > 0.85  # chance is 0.1
    assert m1["loss_curve"] == m2["loss_curve"] and len(m1["loss_curve"]) == 3
    assert m1["loss_curve"][-1] < m1["loss_curve"][0]


def test_sparse_training_runs_on_sparse_modules(tmp_path):
    cases = [AccuracyCase("static_mask", "unstructured", s, epochs=2) for s in (0.0, 0.9)]
    cases.append(AccuracyCase("static_mask", "no-such-scheme", 0.9, epochs=1))
    recs = load_records(run_accuracy(cases, tmp_path / "acc.json"))
    acc = [r for r in recs if r["kind"] == "accuracy"]
    assert [r["case"]["sparsity"] for r in acc] == [0.0, 0.9]
    assert all(0 <= r["metrics"]["accuracy"] <= 1 for r in acc)
    assert recs[-1]["kind"] == "error" and "no-such-scheme" in recs[-1]["metrics"]["error"]


def test_grid_covers_every_scheme_and_actgrad():
    cases = accuracy_cases("digits", quick=True)
    assert {c.scheme for c in cases} >= {"unstructured", "block", "pattern", "filter", "actgrad"}
    assert not any(c.scheme == "pattern" and 0 < c.sparsity < 5 / 9 for c in cases)


def test_cli_list(capsys):
    assert cli.main(["accuracy", "--list", "--method", "actgrad"]) == 0
    assert "digits/actgrad/actgrad/s0.9" in capsys.readouterr().out


def test_cli_seeds_run_every_case_per_seed_seed_major(capsys):
    assert cli.main(["accuracy", "--list", "--method", "dense", "--method", "actgrad", "--seeds", "0", "3"]) == 0
    ids = capsys.readouterr().out.split()
    half = len(ids) // 2
    assert len(ids) % 2 == 0 and half > 1
    assert not any("/seed" in i for i in ids[:half]) and all(i.endswith("/seed3") for i in ids[half:])
    assert [i.removesuffix("/seed3") for i in ids[half:]] == ids[:half]


def test_cli_refuses_a_negative_seed(capsys):
    with pytest.raises(SystemExit):
        cli.main(["accuracy", "--list", "--seeds", "-1"])
    assert "--seeds takes integers >= 0" in capsys.readouterr().err
