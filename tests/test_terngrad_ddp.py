"""TernGrad's data-parallel script under torchrun (2 ranks over 127.0.0.1, gloo), bounded in
steps and time: it trains and writes one record per configuration; a rank that dies or hangs
makes the run fail with a clear message within the timeout, and the rows measured before stay
(a rank that exits: test_terngrad.py's run_ranks case)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sparsebench.measure import load_records

pytest.importorskip("mlxtend")


def _torchrun(tmp_path, *extra, nproc=2, timeout=150):
    out = tmp_path / "ddp.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--master-addr",
           "127.0.0.1", "--master-port", str(_port()), "-m", "sparsebench.methods.terngrad.train_ddp",
           "--epochs", "1", "--max-steps", "3", "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return proc, (load_records(out) if out.exists() else [])


def _port():
    from sparsebench.runners.distributed import free_port

    return free_port()


def test_torchrun_trains_dense_and_terngrad(tmp_path):
    proc, recs = _torchrun(tmp_path, "--configs", "dense,terngrad-clip")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["case"]["scheme"]: r["metrics"] for r in recs if r["kind"] == "ddp-train"}
    assert set(rows) == {"dense", "terngrad-clip"}
    assert rows["dense"]["bytes_ratio_fp32"] == 1.0
    t = rows["terngrad-clip"]
    # the conv / hidden layers at 2 bits, the logits layer (1,290 of the values) in fp32
    assert 5 < t["bytes_ratio_fp32"] < 16
    assert t["steps"] == 3 and t["ranks"] == 2 and 0.0 <= t["accuracy"] <= 1.0


def test_torchrun_hanging_rank_fails_within_timeout(tmp_path):
    proc, recs = _torchrun(tmp_path, "--configs", "dense,terngrad", "--hang-rank", "1", "--timeout", "10")
    assert proc.returncode != 0
    assert "train_ddp: rank 0 of 2 failed" in proc.stderr
    assert [r["case"]["scheme"] for r in recs if r["kind"] == "ddp-train"] == ["dense"]
