"""What a benchmark tool run for hours on many machines meets: two runs appending to one results
file at once, a full disk, `sparsebench run` / `train` killed with SIGKILL mid-run, data files
crafted to run code under pickle, and markup in what the HTML report embeds."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import synthetic_records as synthetic
from sparsebench.measure import ResultStore, load_records
from sparsebench.measure.records import ResultsWriteError

CHILD_TIMEOUT_S = 600


def _append_many(path: str, tag: str, n: int) -> None:
    store = ResultStore(path)
    for i in range(n):
        store.append({"schema": 1, "kind": "probe", "case": {"tag": tag, "i": i}, "metrics": {}})


def test_two_writers_appending_to_one_file_lose_nothing(tmp_path):
    path = tmp_path / "shared.json"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), tag, 40)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(CHILD_TIMEOUT_S)
        assert p.exitcode == 0
    recs = load_records(path)
    assert sorted((r["case"]["tag"], r["case"]["i"]) for r in recs) == sorted(
        (t, i) for t in ("a", "b") for i in range(40))
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.fixture
def tiny_fs(tmp_path):
    """A 256 KiB tmpfs (needs mount rights; skipped where the test cannot mount one)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_is_a_clear_error_and_keeps_earlier_results(tiny_fs):
    path = tiny_fs / "results.json"
    store = ResultStore(path)
    store.extend([{"schema": 1, "kind": "probe", "case": {"i": i}, "metrics": {}} for i in range(3)])
    big = {"schema": 1, "kind": "probe", "case": {"i": 99}, "metrics": {"pad": "x" * 600_000}}
    with pytest.raises(ResultsWriteError, match=r"cannot write .*results\.json: No space left on device"):
        store.append(big)
    assert [r["case"]["i"] for r in load_records(path)] == [0, 1, 2]
    assert not list(tiny_fs.glob(".*.tmp"))  # the partial temporary is removed


def test_the_cli_reports_a_full_disk_without_a_traceback(tiny_fs, capsys):
    from sparsebench.cli import main

    with open(tiny_fs / "fill", "wb", buffering=0) as f:  # fill the file system to the last block
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    rc = main(["shapes", "--model", "resnet20", "--out", str(tiny_fs / "shapes.toml")])
    err = capsys.readouterr().err
    assert rc == 1 and "No space left on device" in err and "Traceback" not in err


def _kill_when(cmd: list[str], path: Path, ready, cwd: Path) -> subprocess.Popen:
    """Start ``cmd``, SIGKILL it as soon as ``ready(path)``; fail if it never gets there."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"{cmd[3]} ended (rc {proc.returncode}) before it could be killed: "
                            f"{proc.stderr.read().decode()[-2000:]}")
            try:
                if ready(path):
                    break
            except ValueError:
                pass  # never a half-written file; a parse error here would be the defect tested below
            time.sleep(0.2)
        else:
            pytest.fail(f"{cmd[3]} did not reach the kill point within {CHILD_TIMEOUT_S} s")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        return proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()


def _stages(path: Path) -> list[dict]:
    return [r for r in load_records(path) if r["kind"] == "stage"] if path.exists() else []


def test_run_killed_mid_run_keeps_every_finished_case(tmp_path):
    out = tmp_path / "run.json"
    cmd = [sys.executable, "-m", "sparsebench.cli", "run", "--layer", "resnet-128x16", "--scheme", "unstructured",
           "--stage", "forward", "--stage", "backward_data", "--stage", "weight_grad_sampled",
           "--sparsity", "0.5", "--sparsity", "0.9", "--no-memory", "--no-peers", "--quiet", "--rounds", "3",
           "--out", str(out)]
    proc = _kill_when(cmd, out, lambda p: len({r["case"]["id"] for r in _stages(p)}) >= 1, tmp_path)
    assert proc.returncode == -signal.SIGKILL
    recs = load_records(out)  # parses
    assert recs[0]["kind"] == "machine"
    finished = {r["case"]["id"] for r in recs if r["kind"] == "stage"}
    assert 1 <= len(finished) < 6  # killed before the end, after a case
    assert all(r["metrics"].get("median_s", 0) > 0 for r in recs if r["kind"] == "stage" and "median_s" in r["metrics"])


def test_train_killed_mid_run_leaves_the_file_it_appends_to_intact(tmp_path):
    out = tmp_path / "train.json"
    synthetic_recs = [{"schema": 1, "kind": "probe", "case": {"i": i}, "metrics": {}} for i in range(2)]
    ResultStore(out).extend(synthetic_recs)
    started = tmp_path / "started"
    cmd = [sys.executable, "-m", "sparsebench.cli", "train", "--model", "resnet20", "--method", "unstructured",
           "--steps", "50", "--data", "synthetic", "--batch", "8", "--no-memory", "--out", str(out)]
    # the run prints a progress line per step on stderr; kill it after the model is built and timing started
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                pytest.fail(f"train ended (rc {proc.returncode}) before it could be killed")
            if line.startswith("step "):
                break
        else:
            pytest.fail("train did not start timing in time")
        started.write_text("1")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert started.exists() and proc.returncode == -signal.SIGKILL
    assert load_records(out) == synthetic_recs


def _pickle_bomb_npz(path: Path, marker: Path, member: str = "late/conv1/dO") -> None:
    """An .npz whose one member is an object array: loading it with pickle allowed would run
    os.system (touching ``marker``)."""

    class Bomb:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    arr = np.empty(1, dtype=object)
    arr[0] = Bomb()
    with zipfile.ZipFile(path, "w") as z:
        with z.open(f"{member}.npy", "w") as f:
            np.lib.format.write_array(f, arr, allow_pickle=True)


def test_a_crafted_capture_file_is_refused_not_executed(tmp_path, monkeypatch):
    from sparsebench.methods.actgrad import capture

    monkeypatch.setenv(capture.CAPTURE_ENV, str(tmp_path))
    marker = tmp_path / "pwned"
    _pickle_bomb_npz(tmp_path / f"{capture._key('digits-cnn', 0)}.npz", marker)
    with pytest.raises(ValueError, match="pickle"):
        capture.load_capture("digits-cnn", 0)
    assert not marker.exists()


def test_a_crafted_arm_vectors_file_is_refused_not_executed(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "arm"))
    try:
        import vectors
    finally:
        sys.path.pop(0)
    marker = tmp_path / "pwned"
    bad = tmp_path / "vectors.npz"
    _pickle_bomb_npz(bad, marker, member="manifest")
    with pytest.raises(ValueError, match="pickle"):
        vectors.load(str(bad))
    assert not marker.exists()


def test_markup_in_a_machine_name_and_a_claim_note_is_escaped(tmp_path, monkeypatch):
    from sparsebench.claims import data as claims_data
    from sparsebench.reports import build_report

    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    monkeypatch.setitem(synthetic.MACHINES, "x86", {**synthetic.MACHINES["x86"], "cpu": evil})
    results = tmp_path / "results"
    synthetic.write_results(results, kinds=("x86",), layers=("linear-1024",), sparsities=(0.9,), rates=(0.9,),
                            accuracy=False, train=False)
    shipped = Path(claims_data.__file__).with_name("claims.toml").read_text()
    claims = tmp_path / "claims.toml"
    claims.write_text(shipped.replace('wording = "3.99x training speedup on CPU"',
                                      f'wording = "3.99x training speedup on CPU {evil}"', 1))
    out = build_report([results], out_root=tmp_path / "reports", name="evil", claims_path=str(claims))
    html = (out / "index.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert" in html


def test_json_records_are_the_only_results_format(tmp_path):
    # results are plain JSON: a records file holding a pickled payload is just a corrupted file
    path = tmp_path / "r.json"
    path.write_bytes(b"\x80\x04\x95" + b"\0" * 20)
    with pytest.raises(ValueError, match="corrupted result file"):
        load_records(path)
    json.dumps(synthetic.machine_full())  # the synthetic machine record is JSON too


def test_a_case_too_large_for_the_machine_is_refused_before_allocating(tmp_path, monkeypatch):
    from sparsebench import memlimit
    from sparsebench.harness import run_cases
    from sparsebench.methods import cases as method_cases
    from sparsebench.catalogue import profile
    import dataclasses

    prof = dataclasses.replace(profile("quick"), layers=("resnet-128x16",), sparsities=(0.9,), threads=(1,))
    case = next(c for c in method_cases(prof) if c.scheme == "unstructured" and c.stage == "forward")
    need = memlimit.case_working_set_bytes(case.layer_spec.shape)
    monkeypatch.setattr(memlimit, "available_memory_bytes", lambda: need // 4)  # a machine a quarter that size
    out = run_cases([case], out=tmp_path / "r.json", rounds=1, peers=False, memory=False)
    recs = [r for r in load_records(out) if r["kind"] not in ("machine", "roofs")]
    assert [r["kind"] for r in recs] == ["unavailable"]
    assert "refused before allocating" in recs[0]["metrics"]["reason"] and "GiB" in recs[0]["metrics"]["reason"]


def test_the_working_set_model_covers_the_tensors_of_a_case():
    from sparsebench import memlimit
    from sparsebench.measure import Conv2dShape, LinearShape

    conv = Conv2dShape(n=8, cin=64, h=32, w=32, cout=64, kh=3, kw=3, stride=1, padding=1)
    x = y = 8 * 64 * 32 * 32 * 4
    assert memlimit.case_working_set_bytes(conv) >= 2 * (x + y)
    lin = LinearShape(batch=256, in_features=1024, out_features=4096)
    assert memlimit.case_working_set_bytes(lin) >= 4 * (256 * 1024 + 256 * 4096 + 1024 * 4096)
