import json
import re
import shutil
import subprocess
import sys
import types
from datetime import datetime

import pytest

from sparsebench.measure import machine_id, machine_record
from sparsebench.measure import machine as machine_mod


def test_record_has_the_facts_and_is_json():
    r = machine_record(isa="avx2", threads=1)
    assert json.loads(json.dumps(r)) == r
    for key in (
        "hostname", "platform", "arch", "cpu", "logical_cores", "memory_total_bytes",
        "python", "numpy", "torch", "kernels", "git", "timestamp",
    ):  # fmt: skip
        assert key in r
    assert r["isa"] == "avx2" and r["threads"] == 1
    assert set(r["cpu"]["flags"]) == set(machine_mod.CPU_FLAGS)
    assert all(isinstance(v, bool) for v in r["cpu"]["flags"].values())
    assert r["logical_cores"] >= 1
    assert r["torch"]["num_threads"] >= 1
    assert datetime.fromisoformat(r["timestamp"]).utcoffset().total_seconds() == 0


def test_flags_agree_with_torch_on_x86():
    r = machine_record()
    if r["arch"] not in ("x86_64", "AMD64"):
        pytest.skip("x86 only")
    cap = r["torch"]["cpu_capability"]
    if cap.startswith("AVX512"):
        assert r["cpu"]["flags"]["avx512f"]
    if cap in ("AVX2", "AVX512"):
        assert r["cpu"]["flags"]["avx2"] and r["cpu"]["flags"]["fma"]


def test_cpu_info_is_cached():
    machine_record()
    before = machine_mod._cpu_info.cache_info().hits
    machine_record()
    assert machine_mod._cpu_info.cache_info().hits == before + 1


def test_missing_kernels_module_is_recorded_not_raised(monkeypatch):
    # None in sys.modules makes the import fail; the package attribute would bypass that.
    monkeypatch.setitem(sys.modules, "sparsebench.kernels", None)
    monkeypatch.delattr(sys.modules["sparsebench"], "kernels", raising=False)
    r = machine_record()
    assert set(r["kernels"]) == {"error"}
    assert "kernels" in r["kernels"]["error"]


def test_kernels_info_is_recorded(monkeypatch):
    fake = types.ModuleType("sparsebench.kernels")
    fake.info = lambda: {"compiler": "gcc 12", "variants": ["scalar", "avx512"]}
    monkeypatch.setitem(sys.modules, "sparsebench.kernels", fake)
    monkeypatch.setattr(sys.modules["sparsebench"], "kernels", fake, raising=False)
    assert machine_record()["kernels"] == {"compiler": "gcc 12", "variants": ["scalar", "avx512"]}


def test_kernels_info_is_made_json_safe(monkeypatch):
    class Lib:
        def __str__(self):
            return "lib"

    fake = types.ModuleType("sparsebench.kernels")
    fake.info = lambda: {"variants": ("scalar",), "lib": Lib()}
    monkeypatch.setitem(sys.modules, "sparsebench.kernels", fake)
    monkeypatch.setattr(sys.modules["sparsebench"], "kernels", fake, raising=False)
    assert machine_record()["kernels"] == {"variants": ["scalar"], "lib": "lib"}


def test_failing_kernels_info_is_recorded(monkeypatch):
    fake = types.ModuleType("sparsebench.kernels")

    def info():
        raise RuntimeError("extension not built")

    fake.info = info
    monkeypatch.setitem(sys.modules, "sparsebench.kernels", fake)
    monkeypatch.setattr(sys.modules["sparsebench"], "kernels", fake, raising=False)
    assert machine_record()["kernels"] == {"error": "RuntimeError: extension not built"}


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(repo, *args):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


@needs_git
def test_git_state_commit_and_dirty(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    assert machine_mod._git_state(repo) == {"commit": None, "dirty": False}  # no commits yet
    (repo / "code.py").write_text("x = 1\n")
    (repo / "results").mkdir()
    (repo / "results" / "r.json").write_text("{}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "init")
    state = machine_mod._git_state(repo)
    assert re.fullmatch(r"[0-9a-f]{40}", state["commit"])
    assert state["dirty"] is False
    (repo / "results" / "r.json").write_text('{"more": 1}\n')
    assert machine_mod._git_state(repo)["dirty"] is False  # results/ does not count
    (repo / "untracked.txt").write_text("new")
    assert machine_mod._git_state(repo)["dirty"] is False  # untracked files do not count
    (repo / "code.py").write_text("x = 2\n")
    assert machine_mod._git_state(repo / "results")["dirty"] is True  # from a subdirectory too


@needs_git
def test_git_state_outside_a_checkout(tmp_path):
    assert machine_mod._git_state(tmp_path) is None


def test_machine_id_is_stable_safe_and_hostname_free():
    a = {
        "hostname": "vm-1",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "arch": "x86_64",
        "cpu": {"brand": "Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.0GHz"},
        "logical_cores": 16,
    }
    b = {**a, "hostname": "vm-2", "timestamp": "2026-06-01T00:00:00+00:00"}
    assert machine_id(a) == machine_id(b)
    assert re.fullmatch(r"[a-z0-9_-]+", machine_id(a))
    assert len(machine_id(a)) <= 60
    assert machine_id({**a, "logical_cores": 2}) != machine_id(a)
    assert machine_id({**a, "arch": "aarch64"}) != machine_id(a)
    assert machine_id({}) == "unknown-cpu-unknown-arch-nc"


def test_machine_id_of_this_machine():
    r = machine_record()
    mid = machine_id(r)
    assert re.fullmatch(r"[a-z0-9_-]+", mid)
    assert mid.endswith(f"-{r['logical_cores']}c")
    assert r["hostname"].lower() not in mid or r["hostname"].lower() in (r["cpu"]["brand"] or "").lower()
