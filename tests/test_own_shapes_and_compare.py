"""A user's own layer shapes (--shape, --shapes-file) and run-to-run comparison (compare):
parsing, refusal messages, matching and exit status. Small cases only; no speed is asserted."""

import json

import pytest

from sparsebench import catalogue, cli, methods, shapes
from sparsebench.harness.compare import compare
from sparsebench.measure import Conv2dShape, LinearShape, load_records
from synthetic_records import stage_record


def test_shapes_parse_to_catalogue_layers_with_a_canonical_name():
    conv = shapes.parse("conv:cin=24, cout=144,k=1,hw=28,batch=8")
    assert conv.shape == Conv2dShape(n=8, cin=24, h=28, w=28, cout=144, kh=1, kw=1, stride=1, padding=0)
    assert conv.name == "conv:cin=24,cout=144,k=1,stride=1,pad=0,hw=28,batch=8" and conv.kind == "conv"
    assert shapes.parse(conv.name) == conv  # the name round-trips (a child process rebuilds it)
    lin = shapes.parse("linear:in=1024,out=4096,batch=256")
    assert lin.shape == LinearShape(batch=256, in_features=1024, out_features=4096)
    assert catalogue.layer(conv.name) == conv and catalogue.layer("resnet-128x16").name == "resnet-128x16"
    rect = shapes.parse("conv:cin=3,cout=8,k=3,stride=2,pad=1,h=9,w=13")
    assert (rect.shape.h, rect.shape.w, rect.shape.n) == (9, 13, 1) and "h=9,w=13" in rect.name


@pytest.mark.parametrize("spec, words", [
    ("conv2d:cin=3", "must start with"),
    ("conv:cin=3,cout=4,k=3,hw=8,colour=2", "unknown key 'colour'"),
    ("conv:cin=3,cout=4,k=3,hw=8,cin=5", "given twice"),
    ("conv:cin=3,cout=4,k=three,hw=8", "k must be an integer"),
    ("conv:cin=0,cout=4,k=3,hw=8", "cin (input channels) must be > 0"),
    ("conv:cin=3,cout=4,k=3,hw=8,pad=-1", "pad (padding) must be >= 0"),
    ("conv:cin=3,cout=4,hw=8", "k (kernel size) is required"),
    ("conv:cin=3,k=3,hw=8", "cout (output channels) is required"),
    ("conv:cin=3,cout=4,k=3,hw=8,groups=3", "groups=3 is not supported by any scheme"),
    ("conv:cin=3,cout=4,k=3,hw=8,dilation=2", "dilation=2 is not supported"),
    ("conv:cin=3,cout=4,kh=1,kw=3,hw=8", "1x3 kernel is not supported"),
    ("conv:cin=3,cout=4,k=9,hw=4", "kernel larger than padded input"),
    ("linear:in=8,batch=2", "out (output features) is required"),
    ("linear:in=8,out=4,x", "is not key=value"),
])
def test_bad_shapes_are_refused_naming_the_problem(spec, words):
    with pytest.raises(shapes.ShapeError) as info:
        shapes.parse(spec)
    assert words in str(info.value)


def test_shapes_file(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('shapes = ["linear:in=64,out=32,batch=16"]\n[[conv]]\ncin = 8\ncout = 16\nk = 3\npad = 1\nhw = 8\n')
    names = [layer.name for layer in shapes.load_file(f)]
    assert names == ["linear:in=64,out=32,batch=16", "conv:cin=8,cout=16,k=3,stride=1,pad=1,hw=8,batch=1"]
    f.write_text("[[pool]]\nk = 2\n")
    with pytest.raises(shapes.ShapeError, match="unknown top-level keys"):
        shapes.load_file(f)
    with pytest.raises(shapes.ShapeError, match="no such file|No such file"):
        shapes.load_file(tmp_path / "absent.toml")


def test_run_with_own_shapes_lists_cases_and_says_what_a_scheme_skips(capsys):
    spec = "conv:cin=8,cout=16,k=1,hw=6,batch=2"
    assert cli.main(["run", "--shape", spec, "--stage", "forward", "--sparsity", "0.9", "--list"]) == 0
    out, err = capsys.readouterr()
    name = shapes.parse(spec).name
    assert f"weight_sparse/{name}/unstructured/forward/s0.9/t1" in out
    assert "pattern skips" in err and "needs 3x3 kernels, got 1x1" in err


def test_a_bad_shape_writes_nothing(tmp_path, capsys):
    assert cli.main(["run", "--shape", "conv:cin=3", "--results", str(tmp_path)]) == 2
    assert "k (kernel size) is required" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_own_shape_records_carry_the_full_geometry(tmp_path):
    spec = "linear:in=24,out=12,batch=8"
    out = tmp_path / "r.json"
    assert cli.main(["run", "--shape", spec, "--scheme", "block", "--stage", "forward", "--sparsity", "0.9",
                     "--no-peers", "--quiet", "--rounds", "2", "--out", str(out)]) == 0
    stage = [r for r in load_records(out) if r["kind"] == "stage"]
    assert stage and all(r["case"]["layer"] == spec for r in stage)
    assert all(r["case"]["geometry"] == {"batch": 8, "in_features": 24, "out_features": 12} for r in stage)


def _recs(times: dict, machine="synthetic-epyc-x86_64-2c"):
    out = []
    for (layer, scheme), t in times.items():
        r = stage_record("x86", "weight_sparse", layer, scheme, "forward", 0.9, "sparsebench", t,
                         speedup_vs_torch_dense=0.01 / t)
        r["machine"]["id"] = machine
        out.append(r)
    return out


def test_compare_matches_by_identity_and_flags_beyond_the_threshold():
    old = _recs({("linear-1024", "block"): 1.0, ("linear-1024", "filter"): 1.0, ("resnet-128x16", "block"): 1.0})
    new = _recs({("linear-1024", "block"): 1.25, ("linear-1024", "filter"): 0.8, ("alexnet-conv4", "block"): 1.0},
                machine="other-box")
    cmp = compare(old, new, threshold=1.10)
    assert [(r.case.split("/")[2], round(r.ratio, 3)) for r in cmp.rows] == [("block", 1.25), ("filter", 0.8)]
    assert [r.case for r in cmp.regressions] == ["weight_sparse/linear-1024/block/forward/s0.9/t1"]
    assert [r.case for r in cmp.improvements] == ["weight_sparse/linear-1024/filter/forward/s0.9/t1"]
    assert cmp.only_old == [("weight_sparse/resnet-128x16/block/forward/s0.9/t1", "sparsebench")]
    assert cmp.only_new == [("weight_sparse/alexnet-conv4/block/forward/s0.9/t1", "sparsebench")]
    by_speedup = compare(old, new, by="speedup")
    assert round(by_speedup.rows[0].ratio, 3) == 1.25  # old/new speedup: the same verdict
    with pytest.raises(ValueError, match="threshold"):
        compare(old, new, threshold=0.9)


def test_compare_exit_status_gates_ci(tmp_path, capsys):
    def write(name, recs):
        p = tmp_path / name
        p.write_text(json.dumps({"schema": 1, "records": recs}))
        return str(p)

    old = write("old.json", _recs({("linear-1024", "block"): 1.0}))
    slower = write("slower.json", _recs({("linear-1024", "block"): 1.3}))
    same = write("same.json", _recs({("linear-1024", "block"): 1.05}))
    assert cli.main(["compare", old, slower]) == 1
    assert "1 regressions" in capsys.readouterr().out
    assert cli.main(["compare", old, same]) == 0
    assert cli.main(["compare", old, slower, "--threshold", "1.5"]) == 0
    assert cli.main(["compare", old, str(tmp_path / "absent.json")]) == 2


def test_methods_cases_take_a_profile_object_too():
    import dataclasses

    prof = dataclasses.replace(catalogue.profile("quick"), layers=("linear:in=16,out=8,batch=4",))
    assert {c.layer for c in methods.cases(prof)} == {"linear:in=16,out=8,batch=4"}


def test_progress_is_one_plain_line_per_finished_case_when_not_a_terminal():
    import io

    from sparsebench.cases import BenchCase
    from sparsebench.harness.progress import Progress

    buf = io.StringIO()
    p = Progress(buf, tty=False)
    cases = [BenchCase("weight_sparse", "linear-1024", "block", st, 0.9, 1) for st in ("forward", "update")]
    for i, c in enumerate(cases):
        p(i, 2, c)
    p(2, 2, None)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in buf.getvalue()
    assert lines[0].startswith("[1/2] weight_sparse/linear-1024/block/forward/s0.9/t1 done in")
    assert lines[1].startswith("[2/2] weight_sparse/linear-1024/block/update/s0.9/t1 done in")


def test_progress_draws_a_bar_on_a_terminal():
    import io

    from sparsebench.harness.progress import Progress

    buf = io.StringIO()
    p = Progress(buf, tty=True)
    p(0, 3, "case-a")
    p(1, 3, "case-b")
    p(3, 3, None)
    assert "3/3" in buf.getvalue() and "case" in buf.getvalue()


def test_layer_selection_without_own_shapes_keeps_only_those_layers(capsys):
    assert cli.main(["run", "--layer", "linear-1024", "--scheme", "filter", "--stage", "forward", "--list"]) == 0
    assert {line.split("/")[1] for line in capsys.readouterr().out.split()} == {"linear-1024"}


def _stage_recs():
    from synthetic_records import suite_records

    return suite_records("x86", layers=("linear-1024",), sparsities=(0.0, 0.9), rates=())


@pytest.mark.parametrize("fmt", ["text", "md", "csv", "json"])
def test_table_exports_have_the_same_rows_and_columns(fmt, tmp_path, capsys):
    from sparsebench.harness.table import render, table_rows

    recs = _stage_recs()
    rows = table_rows(recs)
    assert rows and {"layer", "stage", "scheme", "sparsity", "sparsebench", "sparsebench efficiency",
                     "sparsebench break-even", "ours ms"} <= set(rows[0])
    text = render(recs, fmt)
    if fmt == "csv":
        import csv
        import io

        got = list(csv.DictReader(io.StringIO(text)))
        assert len(got) == len(rows) and list(got[0]) == list(rows[0])
    elif fmt == "json":
        got = json.loads(text)
        assert got["rows"] == json.loads(json.dumps(rows)) and got["columns"] == list(rows[0])
    elif fmt == "md":
        assert text.count("\n| ") == len(rows) + 1  # header + one line per row
    else:
        assert "break-even sparsity" in text
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"schema": 1, "records": recs}))
    assert cli.main(["table", str(p), "--format", fmt]) == 0
    printed = capsys.readouterr().out.strip()
    # text: the methods' own tables follow the speedup table
    assert printed.startswith(text.strip()) if fmt == "text" else printed == text.strip()


def test_report_writes_a_csv_per_table_and_an_a_vs_b_view(tmp_path):
    from sparsebench.reports import build_report

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    recs = _stage_recs()
    a.write_text(json.dumps({"schema": 1, "records": recs}))
    slower = json.loads(json.dumps(recs))
    for r in slower:
        if r["kind"] == "stage" and r["case"]["impl"] == "sparsebench":
            r["metrics"]["speedup_vs_torch_dense"] /= 2
    b.write_text(json.dumps({"schema": 1, "records": slower}))
    out = build_report([b], out_root=tmp_path / "rep", name="x", compare_with=[a])
    names = {p.name for p in out.iterdir()}
    assert names >= {"machines.csv", "claims.csv", "speedups.csv", "compare.csv", "compare.png"}
    html = (out / "index.html").read_text()
    assert 'href="speedups.csv"' in html and "Compared with" in html
    rows = (out / "compare.csv").read_text().splitlines()
    assert rows[0].startswith("case,impl,A speedup,B speedup") and all(",regression," in r for r in rows[1:])


def test_python_api_returns_the_records_the_cli_writes(tmp_path):
    from sparsebench import api

    sel = dict(shapes=["linear:in=32,out=16,batch=8"], schemes=["filter"], stages=["forward"], sparsities=[0.9])
    assert [c.id for c in api.cases(**{"shapes_": sel["shapes"], **{k: v for k, v in sel.items() if k != "shapes"}})]
    recs = api.measure(rounds=2, out=tmp_path / "r.json", **sel)
    assert recs[0]["kind"] == "machine" and any(r["kind"] == "stage" for r in recs)
    assert "linear:in=32,out=16,batch=8" in api.table(recs) and api.rows(recs)[0]["scheme"] == "filter"
    with pytest.raises(ValueError, match="no case"):
        api.measure(schemes=["no-such"], stages=["forward"])


def test_table_reports_useful_and_dense_gflops():
    """Each row names ours' useful GFLOP/s (effective FLOPs / median) and the torch-dense
    baseline's GFLOP/s (dense FLOPs / its median), beside the efficiency."""
    from synthetic_records import stage_record

    from sparsebench.harness.table import speedup_table, table_rows

    m = {"dense_flops": 4e9, "effective_flops": 4e8, "flop_reduction": 10.0, "baseline_median_s": 0.04,
         "speedup_vs_torch_dense": 2.0, "sparsity_reached": 0.9}
    recs = [stage_record("x86", "weight_sparse", "linear-1024", "unstructured", "forward", 0.9, "sparsebench", 0.02,
                         **m),
            stage_record("x86", "weight_sparse", "linear-1024", "unstructured", "forward", 0.9, "torch-dense", 0.04,
                         **{**m, "speedup_vs_torch_dense": 1.0})]
    (row,) = table_rows(recs)
    assert row["ours GFLOP/s"] == pytest.approx(20.0) and row["dense GFLOP/s"] == pytest.approx(100.0)
    assert row["sparsebench efficiency"] == pytest.approx(0.2)
    assert "GFLOP/s" in speedup_table(recs)
