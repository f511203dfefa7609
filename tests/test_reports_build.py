"""`sparsebench report` on synthetic records: files, figures, claims table, bad input skipped."""

import json
import re

import pytest

from sparsebench.reports import build_report
import synthetic_records as synthetic

PNG = b"\x89PNG\r\n\x1a\n"


def _png_ok(path):
    data = path.read_bytes()
    return data[:8] == PNG and len(data) > 5_000


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("r")
    results = root / "results"
    # two layers, three sparsities: every figure kind, kept small so the test stays fast
    synthetic.write_results(results, kinds=("x86", "arm"), layers=("alexnet-conv4", "linear-1024"),
                            sparsities=(0.0, 0.5, 0.9), rates=(0.9,))
    (results / "broken.json").write_text('{"schema": 1, "records": [{"kind"')  # killed mid-write
    partial = {"schema": 1, "records": [{"kind": "stage", "case": {"suite": "weight_sparse"}, "metrics": {}}]}
    (results / "partial.json").write_text(json.dumps(partial))
    (results / "other.json").write_text(json.dumps({"schema": 99, "records": []}))
    return build_report([results], out_root=root / "reports", name="two-machines")


def test_report_writes_pages_and_figures(report):
    md = (report / "index.md").read_text()
    html = (report / "index.html").read_text()
    pngs = sorted(report.glob("*.png"))
    names = {p.name for p in pngs}
    assert all(_png_ok(p) for p in pngs)
    for prefix in ("speedup-synthetic-epyc", "speedup-synthetic-graviton", "breakdown-", "memory-", "efficiency-",
                   "network-speedup-synthetic-epyc", "network-breakdown-"):
        assert any(n.startswith(prefix) for n in names), prefix
    assert {"accuracy-digits.png", "loss-digits.png", "machines.png"} <= names
    # every image the pages reference exists, by a relative path
    for ref in re.findall(r'<img src="([^"]+)"', html) + re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert "/" not in ref and (report / ref).is_file()
    assert len(re.findall(r"<img ", html)) == len(pngs)
    assert "<script" not in html


def test_captions_name_machine_threads_isa_commit_baseline(report):
    md = (report / "index.md").read_text()
    cap = next(line for line in md.splitlines() if line.startswith("*weight_sparse forward"))
    for word in ("synthetic-", "1 thread", "ISA avx512", "commit 0123456789", "baseline torch-dense"):
        assert word in cap


def test_claims_table_per_machine(report):
    md = (report / "index.md").read_text()
    assert "On synthetic-epyc-x86_64-2c:" in md and "On synthetic-graviton-aarch64-2c:" in md
    assert "| terngrad-communication-1/16 |" in md and "not measured yet" in md
    arm_on_x86 = next(l for l in md.splitlines() if l.startswith("| actgrad-arm-training-5.92x"))
    assert "different setup" in arm_on_x86
    assert 'class="reproduced"' in (report / "index.html").read_text()


def test_bad_files_and_partial_records_are_reported_not_fatal(report):
    md = (report / "index.md").read_text()
    skipped = md.split("## Skipped input")[1].split("##")[0]
    assert "broken.json" in skipped and "other.json" in skipped
    assert "1 partial record" in skipped


def test_single_machine_without_accuracy_skips_those_figures(tmp_path):
    recs = [r for r in synthetic.suite_records("x86", layers=("linear-1024",), sparsities=(0.0, 0.9), rates=())
            if r["kind"] == "machine" or r["case"]["stage"] == "forward"]
    (tmp_path / "r.json").write_text(json.dumps({"schema": 1, "records": recs}))
    out = build_report([tmp_path / "r.json", tmp_path / "missing.json"], out_root=tmp_path / "reports")
    assert out.name.startswith("synthetic-epyc-x86_64-2c-")
    md = (out / "index.md").read_text()
    assert "no accuracy records yet" in md and "one machine only" in md and "missing.json" in md
    assert not list(out.glob("accuracy*.png")) and not (out / "machines.png").exists()
    assert any(p.name.startswith("speedup-") for p in out.glob("*.png"))


def test_report_with_no_results_at_all(tmp_path):
    out = build_report([tmp_path / "empty"], out_root=tmp_path / "reports", name="empty")
    assert "Figure skipped" in (out / "index.md").read_text() and (out / "index.html").is_file()


def test_method_sections_show_each_methods_tables_and_figures(tmp_path, monkeypatch):
    """A method's own tables (fixed-width, kept as written) and figures get a section under its
    title; a method whose section raises is named with its error, the page still builds."""
    from sparsebench.methods import base
    import sparsebench.methods as methods_pkg

    class Shows(base.Method):
        name, title = "shows", "a method that shows things"

        def tables(self, records):
            return ["col  x\n---  ```\nrow  <b>"]

        def figures(self, records, out):
            (out / "shows.png").write_bytes(PNG + b"0" * 6000)
            return [("shows.png", "its own figure")]

    class Breaks(base.Method):
        name, title = "breaks", "a method whose section fails"

        def tables(self, records):
            raise RuntimeError("no data of its kind")

    monkeypatch.setattr(methods_pkg, "all_methods", lambda: {"shows": Shows(), "breaks": Breaks(),
                                                               "quiet": base.Method()})
    out = build_report([tmp_path / "none"], out_root=tmp_path / "reports", name="m")
    md, html = (out / "index.md").read_text(), (out / "index.html").read_text()
    assert "## Method: a method that shows things" in md and "![its own figure](shows.png)" in md
    assert "````\ncol  x\n---  ```\nrow  <b>\n````" in md  # the fence outlasts the backticks inside
    assert "<pre>col  x\n---  ```\nrow  &lt;b&gt;</pre>" in html
    assert "breaks: its section failed: RuntimeError: no data of its kind" in md
    assert md.count("## Method:") == 2


def test_accuracy_table_spreads_over_seeds_and_pairs_with_dense(report):
    """Two seeds per run: mean, min and max over them, and the mean paired difference to dense."""
    import csv

    rows = list(csv.DictReader((report / "accuracy.csv").open()))
    block = next(r for r in rows if r["scheme"] == "block" and r["sparsity"] == "0.9")
    assert (block["seeds"], block["mean"], block["min"], block["max"]) == ("2", "0.9030", "0.8980", "0.9080")
    assert block["vs dense (pts)"] == "-7.20 (2 seeds)"
    dense = next(r for r in rows if r["method"] == "dense")
    assert dense["vs dense (pts)"] == "-" and dense["seeds"] == "2"


def test_generic_accuracy_figure_leaves_out_methods_that_draw_their_own(tmp_path):
    """MEST draws its variant grid itself: the generic per-method panels skip it (its runs stay in
    the accuracy table), and a data set with only such methods gets no generic figure."""
    from sparsebench.reports import plots

    made = plots.accuracy(synthetic.accuracy_records("mest"), tmp_path)
    assert made == []
    made = plots.accuracy(synthetic.accuracy_records("static_mask"), tmp_path)
    assert [m[0] for m in made] == ["accuracy-digits.png", "loss-digits.png"]
