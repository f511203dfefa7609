"""The kernel boundary: dispatch, thread counts, zero-copy views and clear errors on bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from sparsebench.methods.actgrad import kernels as agk
from sparsebench import _kernels, kernels


def test_info_reports_variants_and_runtime():
    info = kernels.info()
    assert info["chosen"] in info["usable"]
    assert set(info["usable"]) <= set(info["compiled"])
    assert info["chosen"] == info["usable"][-1]  # the widest usable variant by default
    assert info["openmp"]["max_threads"] >= 1
    assert info["compiler"] and info["isa_flags"]["scalar"]
    for isa in info["compiled"]:
        assert isa in info["isa_flags"]


@pytest.mark.skipif("avx512f" not in kernels.info()["cpu_flags"], reason="needs an AVX-512 CPU")
def test_avx512_machine_chooses_avx512():
    info = kernels.info()
    assert {"scalar", "avx2", "avx512"} <= set(info["usable"])
    assert info["chosen"] == "avx512"


def _in_child(code: str, isa_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SPARSEBENCH_ISA=isa_env)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_environment_variable_switches_variant():
    r = _in_child("from sparsebench import kernels; print(kernels.resolve_isa(None))", "scalar")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "scalar"


@pytest.mark.parametrize("bad", ["sse9", "neon" if "neon" not in kernels.compiled_isas() else "avx512"])
def test_environment_variable_rejects_unknown_or_unavailable(bad):
    if bad in kernels.usable_isas():
        pytest.skip(f"{bad} is usable here")
    r = _in_child("import numpy as np; from sparsebench.methods.actgrad import kernels as agk; agk.abs_sum(np.ones(3, np.float32))", bad)
    assert r.returncode != 0
    assert "ValueError" in r.stderr and "SPARSEBENCH_ISA" in r.stderr and bad in r.stderr


def test_per_call_isa_overrides_environment(monkeypatch):
    monkeypatch.setenv(kernels.ISA_ENV, "scalar")
    assert kernels.resolve_isa(None) == "scalar"
    assert kernels.resolve_isa(kernels.usable_isas()[-1]) == kernels.usable_isas()[-1]


def test_unknown_isa_per_call():
    with pytest.raises(ValueError, match="unknown ISA variant 'mmx'"):
        agk.abs_sum(np.ones(4, np.float32), isa="mmx")
    with pytest.raises(TypeError, match="isa must be a str"):
        agk.abs_sum(np.ones(4, np.float32), isa=3)


def test_uncompiled_isa_is_a_clear_error():
    missing = [i for i in kernels.KNOWN_ISAS if i not in kernels.compiled_isas()]
    if not missing:
        pytest.skip("every variant is compiled")
    with pytest.raises(ValueError, match="not compiled"):
        agk.abs_sum(np.ones(4, np.float32), isa=missing[0])


@pytest.mark.parametrize(
    "g,exc,msg",
    [
        (np.ones(8, np.float64), TypeError, "g must have dtype float32"),
        (torch.ones(8, dtype=torch.float64), TypeError, "g must have dtype float32"),
        (np.ones(8, np.int32), TypeError, "g must have dtype float32"),
        (np.ones((4, 8), np.float32)[:, ::2], ValueError, "g must be C-contiguous"),
        (torch.ones(4, 8).t(), ValueError, "g must be C-contiguous"),
        ([1.0, 2.0], TypeError, "g must be a numpy array or a CPU torch tensor"),
        (torch.ones(4).to_sparse(), TypeError, "g must be a dense"),
    ],
)
def test_bad_inputs_name_the_argument(g, exc, msg):
    with pytest.raises(exc, match=msg):
        agk.stochastic_prune(g, 0.5, 1)
    with pytest.raises(exc, match=msg):
        agk.dbtd_threshold(g, 0.5)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_rate_out_of_range(p):
    with pytest.raises(ValueError, match="p must be in"):
        agk.dbtd_threshold(np.ones(4, np.float32), p)


@pytest.mark.parametrize("tau", [-1.0, float("inf"), float("nan")])
def test_bad_tau(tau):
    with pytest.raises(ValueError, match="tau must be finite"):
        agk.stochastic_prune(np.ones(4, np.float32), tau, 1)


def test_bad_seed_and_threads_and_out():
    g = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="seed"):
        agk.stochastic_prune(g, 0.5, -1)
    with pytest.raises(TypeError, match="seed"):
        agk.stochastic_prune(g, 0.5, 1.5)
    with pytest.raises(ValueError, match="threads must be >= 0"):
        agk.stochastic_prune(g, 0.5, 1, threads=-2)
    with pytest.raises(ValueError, match=r"out must have shape \(4,\)"):
        agk.stochastic_prune(g, 0.5, 1, out=np.empty(5, np.float32))
    ro = np.empty(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        agk.stochastic_prune(g, 0.5, 1, out=ro)


def test_torch_in_torch_out_and_no_copies():
    g = torch.randn(1000)
    out = torch.empty_like(g)
    res, nnz = agk.stochastic_prune(g, 0.5, 3, out=out)
    assert res is out and nnz == int(torch.count_nonzero(out))
    res2, _ = agk.stochastic_prune(g, 0.5, 3)
    assert isinstance(res2, torch.Tensor) and torch.equal(res2, out)
    # the kernel writes through a view of the caller's buffer: no hidden copy
    arr = np.zeros(1000, np.float32)
    agk.stochastic_prune(g.numpy(), 0.5, 3, out=arr)
    assert np.array_equal(arr, out.numpy())


def test_tensor_requiring_grad_is_viewed_not_rejected():
    g = torch.randn(64, requires_grad=True)
    assert agk.abs_sum(g) == pytest.approx(float(g.detach().abs().sum()), rel=1e-6)


def test_thread_count_is_honoured():
    # The kernel reports omp_get_num_threads() of its parallel region through a probe entry.
    for t in (1, 2):
        assert _kernels.probe_threads(threads=t) == t
    assert _kernels.probe_threads(threads=0) == kernels.info()["openmp"]["max_threads"]


def test_gil_is_released_during_kernels():
    # Two Python threads running a long kernel each overlap only if the GIL is released.
    import threading
    import time

    g = np.random.default_rng(0).standard_normal(20_000_000).astype(np.float32)
    out1, out2 = np.empty_like(g), np.empty_like(g)
    t0 = time.perf_counter()
    agk.stochastic_prune(g, 0.5, 1, out=out1, threads=1)
    single = time.perf_counter() - t0
    seen = []

    def watcher():
        # ticks while the kernel runs: impossible if the kernel held the GIL
        while not done.is_set():
            seen.append(1)
            time.sleep(0.001)

    done = threading.Event()
    w = threading.Thread(target=watcher)
    w.start()
    agk.stochastic_prune(g, 0.5, 1, out=out2, threads=1)
    done.set()
    w.join()
    assert single > 0.005
    assert len(seen) >= 3
