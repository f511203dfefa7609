import json
import re
from datetime import datetime

import numpy as np
import pytest

from sparsebench.measure import (
    ResultStore,
    Timing,
    default_results_path,
    iter_result_files,
    load_all,
    load_records,
    make_record,
)
from sparsebench.measure import records as records_mod

MACHINE = {
    "hostname": "box",
    "arch": "x86_64",
    "cpu": {"brand": "AMD EPYC 9R14 (TM) Processor"},
    "logical_cores": 2,
    "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
    "timestamp": "2026-01-02T03:04:05+00:00",
}


def rec(i: int) -> dict:
    return make_record("spmm", {"i": i}, {"median_s": 0.5 * i}, MACHINE)


def test_make_record_fields_and_conversion():
    t = Timing.from_samples([1.0, 2.0, 3.0], number=2)
    r = make_record(
        "conv_forward",
        {"shape": (2, 3), "density": np.float64(0.25)},
        {"timing": t, "flops": np.int64(7)},
        MACHINE,
    )
    assert r["schema"] == 1
    assert r["kind"] == "conv_forward"
    assert r["case"] == {"shape": [2, 3], "density": 0.25}
    assert r["metrics"]["timing"] == t.to_dict()
    assert r["metrics"]["flops"] == 7 and type(r["metrics"]["flops"]) is int
    assert r["machine"] == MACHINE
    assert datetime.fromisoformat(r["created"]).utcoffset().total_seconds() == 0
    assert json.loads(json.dumps(r)) == r


def test_make_record_rejects_what_json_cannot_hold():
    with pytest.raises(TypeError, match="spmm"):
        make_record("spmm", {"obj": object()}, {}, MACHINE)


def test_store_appends_and_creates_dirs(tmp_path):
    path = tmp_path / "a" / "b" / "run.json"
    store = ResultStore(path)
    assert store.records() == []
    store.append(rec(1))
    store.append(rec(2))
    assert [r["case"]["i"] for r in store.records()] == [1, 2]
    assert json.loads(path.read_text())["schema"] == 1
    assert load_records(path) == store.records()
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.json"]  # no temporaries


def test_crash_mid_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    store = ResultStore(path)
    store.append(rec(1))
    before = path.read_bytes()

    real_dump = json.dump

    def crashing_dump(obj, fp, **kw):
        fp.write('{"schema": 1, "records": [{"kind": "half')  # partial output first
        fp.flush()
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(records_mod.json, "dump", crashing_dump)
    with pytest.raises(KeyboardInterrupt):
        store.append(rec(2))
    monkeypatch.setattr(records_mod.json, "dump", real_dump)

    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # temporary cleaned up
    assert [r["case"]["i"] for r in store.records()] == [1]
    store.append(rec(3))  # the store still works afterwards
    assert [r["case"]["i"] for r in store.records()] == [1, 3]


def test_replace_is_the_only_way_the_file_changes(tmp_path, monkeypatch):
    # If os.replace never happens (crash just before it), the old file is still complete.
    path = tmp_path / "run.json"
    ResultStore(path).append(rec(1))
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(records_mod.os, "replace", crash)
    with pytest.raises(OSError):
        ResultStore(path).append(rec(2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


@pytest.mark.parametrize(
    "content",
    [
        '{"schema": 1, "records": [{"kind": "a"',  # truncated
        "",  # empty
        "[1, 2]",  # wrong top level
        '{"schema": 99, "records": []}',  # unknown schema
        b"\xff\xfe\x00garbage",  # not UTF-8
    ],
)
def test_load_records_names_the_corrupted_file(tmp_path, content):
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_records(path)


def test_append_refuses_to_overwrite_a_corrupted_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"schema": 1, "records": [')
    with pytest.raises(ValueError):
        ResultStore(path).append(rec(1))
    assert path.read_text() == '{"schema": 1, "records": ['


def test_load_all_skips_and_reports_bad_files(tmp_path):
    ResultStore(tmp_path / "m1" / "good.json").extend([rec(1), rec(2)])
    ResultStore(tmp_path / "m2" / "good2.json").append(rec(3))
    (tmp_path / "m1" / "partial.json").write_text('{"schema": 1, "recor')
    (tmp_path / "m2" / "other.json").write_text('{"not": "ours"}')
    (tmp_path / "m1" / ".good.json.abc.tmp").write_text("leftover temp")
    (tmp_path / "m1" / ".hidden.json").write_text("{")
    (tmp_path / "notes.txt").write_text("ignored")

    files = list(iter_result_files(tmp_path))
    assert [p.name for p in files] == ["good.json", "partial.json", "good2.json", "other.json"]

    records, errors = load_all(tmp_path)
    assert sorted(r["case"]["i"] for r in records) == [1, 2, 3]
    assert sorted(p.name for p, _ in errors) == ["other.json", "partial.json"]
    assert all(str(p) in msg for p, msg in errors)


def test_load_all_of_missing_dir_is_empty(tmp_path):
    assert load_all(tmp_path / "nope") == ([], [])


def test_default_results_path():
    p = default_results_path("results", MACHINE)
    assert p.parent.parent.name == "results"
    assert p.parent.name == "amd-epyc-9r14-processor-x86_64-2c"
    assert p.name == "20260102T030405Z-0123456789ab.json"
    assert default_results_path("results", MACHINE) == p  # one run, one file


def test_default_results_path_without_commit():
    machine = {**MACHINE, "git": None}
    assert default_results_path("r", machine).name.endswith("-nocommit.json")
    machine = {**MACHINE, "git": {"commit": None, "dirty": True}}
    assert default_results_path("r", machine).name.endswith("-nocommit.json")
    no_stamp = {k: v for k, v in MACHINE.items() if k != "timestamp"}
    assert re.fullmatch(r"\d{8}T\d{6}Z-0123456789ab\.json", default_results_path("r", no_stamp).name)
