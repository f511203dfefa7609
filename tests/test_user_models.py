"""A user's own model: `sparsebench train --model package.module:factory --input-shape C,H,W` and
`sparsebench shapes --model ...` (the layer shapes with their FLOP share, as --shape specs and a
shapes file `run` reads back). Bad input is refused naming the argument, with nothing written."""

from __future__ import annotations

import json
import math
import sys
import textwrap

import pytest
from torch import nn

from sparsebench import models, shapes
from sparsebench.cli import main
from sparsebench.models import layer_shapes as ls
from sparsebench.models import user

MODULE = textwrap.dedent("""
    from torch import nn

    def small():
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1),
                             nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 12, 1),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 7))

    def not_a_module():
        return 42

    def broken():
        raise RuntimeError("factory failed on purpose")
""")


@pytest.fixture
def usermod(tmp_path, monkeypatch):
    """A module ``usernet_<n>`` in a fresh working directory (importable as under python -m)."""
    name = f"usernet_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)
    user.network.cache_clear()


def test_input_shape_parsing():
    assert user.parse_input_shape("3,32,32") == (3, 32, 32)
    assert user.parse_input_shape([1, 28, 28]) == (1, 28, 28)
    for bad in ("3,32", "3,0,32", "a,b,c", "3,32,32,1"):
        with pytest.raises(ValueError, match="--input-shape"):
            user.parse_input_shape(bad)


def test_a_factory_builds_seeded_and_its_class_count_is_read_from_its_output(usermod):
    spec = f"{usermod}:small"
    net = models.network(spec, "1,20,20")
    assert (net.input, net.classes) == ((1, 20, 20), 7)
    a, b = models.build(spec, seed=5), models.build(spec, seed=5)
    assert all((p == q).all() for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("attr,input_shape,message", [
    ("small", None, "--input-shape C,H,W is required"),
    ("small", "3,20,20", "--input-shape 3,20,20: the model .* fails on it"),
    ("nope", "1,20,20", "has no attribute 'nope'"),
    ("not_a_module", "1,20,20", "returned int, not a torch.nn.Module"),
    ("broken", "1,20,20", "the factory raised RuntimeError: factory failed on purpose"),
])
def test_a_bad_factory_or_input_shape_is_refused_naming_it(usermod, attr, input_shape, message):
    with pytest.raises(ValueError, match=message):
        models.network(f"{usermod}:{attr}", input_shape)


def test_a_module_that_does_not_import_and_a_malformed_spec_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_xyz'"):
        models.network("no_such_module_xyz:f", "1,8,8")
    with pytest.raises(ValueError, match="expected package.module:factory"):
        models.network("pkg:", "1,8,8")
    with pytest.raises(ValueError, match="unknown model 'resnet99'"):
        models.network("resnet99")


def test_layer_shapes_count_flops_by_hand_and_specs_parse_back(usermod):
    layers = ls.layer_shapes(models.build(f"{usermod}:small"), (1, 20, 20), batch=4)
    assert [x.name for x in layers] == ["0", "2", "4", "5", "8"]
    # hand count, 2 FLOPs per multiply-add: conv1 20x20 out, conv2 stride 2 -> 10x10, depthwise,
    # 1x1, linear
    expect = [2 * 4 * 8 * 1 * 9 * 400, 2 * 4 * 16 * 8 * 9 * 100, 2 * 4 * 16 * 1 * 9 * 100, 2 * 4 * 12 * 16 * 100,
              2 * 4 * 12 * 7]
    assert [x.flops for x in layers] == expect
    assert sum(x.share for x in layers) == pytest.approx(1.0)
    assert layers[1].spec == "conv:cin=8,cout=16,k=3,stride=2,pad=1,hw=20,batch=4"
    assert "groups=16" in layers[2].refused and layers[2].spec.endswith("groups=16")
    for x in layers:
        if not x.refused:
            assert shapes.parse(x.spec).name == x.spec


def test_the_shapes_file_runs_back_through_run(usermod, tmp_path, capsys):
    out = tmp_path / "mine.toml"
    assert main(["shapes", "--model", f"{usermod}:small", "--input-shape", "1,20,20", "--batch", "2",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "groups=16" in text and "refused" in text
    loaded = [layer.name for layer in shapes.load_file(out)]
    assert len(loaded) == 4 and all("groups" not in n for n in loaded)
    assert "# not runnable" in out.read_text()
    # and `run --list` takes it
    assert main(["run", "--shapes-file", str(out), "--stage", "forward", "--list", "--no-peers"]) == 0
    listed = capsys.readouterr().out
    assert "conv:cin=8,cout=16,k=3,stride=2,pad=1,hw=20,batch=2" in listed


def test_shapes_of_a_zoo_model_as_toml(capsys):
    assert main(["shapes", "--model", "resnet20", "--format", "toml"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# layer shapes of resnet20") and "x6, " in text


def test_train_on_a_user_model_records_its_input_shape(usermod, tmp_path, capsys):
    out = tmp_path / "rec.json"
    rc = main(["train", "--model", f"{usermod}:small", "--input-shape", "1,20,20", "--method", "unstructured",
               "--steps", "1", "--warmup", "0", "--profile-steps", "1", "--data", "synthetic", "--batch", "4",
               "--no-memory", "--quiet", "--out", str(out)])
    assert rc == 0
    records = json.loads(out.read_text())["records"]
    train = [r for r in records if r["kind"] == "train"]
    assert len(train) == 1
    case, metrics = train[0]["case"], train[0]["metrics"]
    assert case["model"] == f"{usermod}:small" and case["input_shape"] == [1, 20, 20]
    # the first and last layers stay dense under static_mask, the depthwise one under every scheme
    assert metrics["converted"] >= 1 and metrics["dense_layers"] >= 2
    assert "groups=16" in " ".join(d["reason"] for d in metrics["layers"])


@pytest.mark.parametrize("argv,message", [
    (["--model", "{m}:small"], "--input-shape C,H,W is required"),
    (["--model", "{m}:not_a_module", "--input-shape", "1,20,20"], "not a torch.nn.Module"),
    (["--model", "{m}:small", "--input-shape", "1,20"], "--input-shape must be three"),
    (["--model", "no_such_module_xyz:f", "--input-shape", "1,20,20"], "cannot import module"),
])
def test_train_refuses_a_bad_model_and_writes_nothing(usermod, tmp_path, capsys, argv, message):
    results = tmp_path / "results"
    argv = [a.format(m=usermod) for a in argv]
    rc = main(["train", *argv, "--method", "unstructured", "--steps", "1", "--no-memory", "--quiet",
               "--results", str(results)])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not results.exists()


def test_layer_shapes_refuse_a_zero_batch():
    with pytest.raises(ValueError, match="--batch"):
        ls.layer_shapes(nn.Linear(3, 2), (1, 1, 3), batch=0)


def test_python_api_lists_a_module_s_shapes_and_trains_a_user_model(usermod):
    from sparsebench import api

    model = models.build(f"{usermod}:small")
    specs = api.model_shapes(model, (1, 20, 20), batch=2)
    assert len(specs) == 4 and all("groups" not in s for s in specs)
    assert len(api.model_shapes(f"{usermod}:small", "1,20,20", batch=2, runnable=False)) == 5
    with pytest.raises(ValueError, match="input_shape"):
        api.model_shapes(model)
    rec = api.train(f"{usermod}:small", "unstructured", input_shape=(1, 20, 20), steps=1, warmup=0, profile_steps=1,
                    data="synthetic", batch=4, memory=False)
    assert rec["kind"] == "train" and rec["case"]["input_shape"] == [1, 20, 20]
    assert math.isfinite(rec["metrics"]["speedup"])  # a figure is recorded (no speed is asserted)
