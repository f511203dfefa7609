"""TernGrad: kernels vs reference (bit-exact on every ISA variant and thread count), 2-bit
packing, unbiasedness, bad input, and the DDP hook over gloo on loopback vs the same average
computed in one process. (Registry ops are also cross-validated by test_crossval.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sparsebench import kernels as sbk
from sparsebench.methods.terngrad import comm, kernels as tk, reference as ref
from sparsebench.runners.distributed import RankFailure, run_ranks

ISAS = sbk.usable_isas()


def _g(n, seed=0, scale=1e-3):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * scale


# --- packing --------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 15, 16, 17, 33, 1001])
def test_pack_unpack_roundtrip(n):
    t = torch.randint(-1, 2, (n,), generator=torch.Generator().manual_seed(n), dtype=torch.int8)
    packed = ref.pack(t)
    assert packed.dtype == torch.uint8 and packed.numel() == (n + 3) // 4
    assert torch.equal(ref.unpack(packed, n), t)
    # the kernel's decode of the reference's bytes gives the same values (scale 1)
    assert torch.equal(tk.decode(packed, n, 1.0), t.to(torch.float32))
    if n % 4:  # padding codes are 1 (the value 0)
        last = int(packed[-1])
        assert all((last >> (2 * j)) & 3 == 1 for j in range(n % 4, 4))


def test_code_layout_is_sign_plus_one_four_a_byte():
    t = torch.tensor([1, 0, -1, 1, -1], dtype=torch.int8)
    assert ref.pack(t).tolist() == [2 | 1 << 2 | 0 << 4 | 2 << 6, 0 | 1 << 2 | 1 << 4 | 1 << 6]


# --- bit-exact across ISA variants and thread counts -----------------------------------------------

@pytest.mark.parametrize("mode", ["max", "std"])
def test_encode_identical_on_every_isa_and_thread_count(mode):
    g = _g(3 * (1 << 15) + 4097 + 3, seed=5)  # several chunks and blocks, a tail not a multiple of 4
    s_ref = ref.scaler(g, mode)
    p_ref = ref.ternarize_pack(g, s_ref, 99)
    for isa in ISAS:
        for threads in (1, 2, 3, 4):
            s = tk.scaler(g, mode, isa=isa, threads=threads)
            assert s == s_ref, (isa, threads)
            assert torch.equal(tk.ternarize_pack(g, s, 99, isa=isa, threads=threads), p_ref), (isa, threads)


def test_decode_identical_on_every_isa_and_thread_count():
    n = 2 * (1 << 15) + 7
    packed = torch.stack([tk.ternarize_pack(_g(n, r), 2e-3, r) for r in range(3)])
    out0 = _g(n, 9)
    want = ref.decode(packed, n, 0.25, out=out0, accumulate=True)
    for isa in ISAS:
        for threads in (1, 2, 3):
            got = tk.decode(packed, n, 0.25, out=out0.clone(), accumulate=True, isa=isa, threads=threads)
            assert torch.equal(got, want), (isa, threads)


def test_clipping_mode_clips_and_max_mode_does_not():
    g = _g(100_000, 3)
    g[0] = 1.0  # an outlier far above 2.5 std
    s_max, s_std = tk.scaler(g, "max"), tk.scaler(g, "std")
    assert s_max == 1.0
    assert s_std == pytest.approx(2.5 * float(g.double().std(unbiased=False)), rel=1e-6)
    t = ref.unpack(tk.ternarize_pack(g, s_std, 1), g.numel())
    big = g.abs() > s_std
    assert big.any() and torch.equal(t[big], torch.sign(g[big]).to(torch.int8))  # |g| > s always fires


# --- statistics ------------------------------------------------------------------------------------

@pytest.mark.parametrize("isa", ISAS)
def test_ternary_gradient_is_unbiased(isa):
    # 40 values in (-s, s), each repeated K times: independent draws of the counter-based RNG
    values = torch.linspace(-0.95, 0.95, 40)
    K = 4000
    g = values.repeat_interleave(K).contiguous()
    s = 1.0
    est = tk.decode(tk.ternarize_pack(g, s, 2024, isa=isa), g.numel(), s).view(40, K)
    mean = est.double().mean(1)
    p = values.double().abs() / s
    sd = s * torch.sqrt(p * (1 - p)) / math.sqrt(K)
    z = (mean - values.double()) / sd
    assert float(z.abs().max()) < 5.0, z  # 40 tests at 5 sigma: a false alarm is ~1e-5
    assert abs(float(z.mean())) < 5.0 / math.sqrt(40)
    # and the variance is the Bernoulli one (a biased coin or a constant output would fail)
    var = est.double().var(1)
    assert torch.allclose(var, s * s * p * (1 - p), rtol=0.15, atol=2e-3)


def test_different_seeds_give_independent_codes():
    g = _g(10_000, 4)
    s = tk.scaler(g)
    a, b = tk.ternarize_pack(g, s, 1), tk.ternarize_pack(g, s, 2)
    assert not torch.equal(a, b)


# --- edge cases and bad input -----------------------------------------------------------------------

def test_empty_and_all_zero():
    e = torch.zeros(0)
    assert tk.scaler(e) == 0.0 and tk.scaler(e, "std") == 0.0
    assert tk.ternarize_pack(e, 0.0, 1).numel() == 0
    assert tk.decode(torch.zeros(0, dtype=torch.uint8), 0, 1.0).numel() == 0
    z = torch.zeros(13)
    assert tk.scaler(z, "std") == 0.0
    assert torch.equal(tk.decode(tk.ternarize_pack(z, 0.0, 1), 13, 0.0), z)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_gradient_is_refused(bad):
    g = _g(5000, 1)
    g[4321] = bad
    for mode in ("max", "std"):
        with pytest.raises(ValueError, match="1 NaN/Inf"):
            tk.scaler(g, mode)
        with pytest.raises(ValueError, match="NaN/Inf"):
            ref.scaler(g, mode)
    with pytest.raises(ValueError, match="s must be finite"):
        tk.ternarize_pack(g, float("inf"), 1)


def test_bad_arguments_name_the_argument():
    g = _g(10)
    with pytest.raises(TypeError, match="g must be a float32"):
        tk.scaler(g.double())
    with pytest.raises(TypeError, match="g must be a float32"):
        tk.ternarize_pack(torch.arange(10), 1.0, 1)
    with pytest.raises(TypeError, match="g must be a float32"):
        tk.scaler(g.to(torch.bfloat16))
    with pytest.raises(ValueError, match="g must be contiguous"):
        tk.scaler(_g(20)[::2])
    with pytest.raises(TypeError, match="g must be a torch tensor or numpy"):
        tk.scaler([1.0, 2.0])
    with pytest.raises(ValueError, match="mode must be"):
        tk.scaler(g, "mean")
    with pytest.raises(ValueError, match="c must be"):
        tk.scaler(g, "std", c=0)
    with pytest.raises(ValueError, match="s must be finite and >= 0"):
        tk.ternarize_pack(g, -1.0, 1)
    with pytest.raises(ValueError, match="seed must be in"):
        tk.ternarize_pack(g, 1.0, -1)
    with pytest.raises(TypeError, match="seed must be an int"):
        tk.ternarize_pack(g, 1.0, 1.5)
    with pytest.raises(ValueError, match="out must have shape"):
        tk.ternarize_pack(g, 1.0, 1, out=torch.empty(2, dtype=torch.uint8))
    packed = tk.ternarize_pack(g, 1.0, 1)
    with pytest.raises(ValueError, match="packed: 10 values need 3 bytes from offset 1"):
        tk.decode(packed, 10, 1.0, offset=1)
    with pytest.raises(TypeError, match="packed must be uint8"):
        tk.decode(packed.to(torch.int32), 10, 1.0)
    with pytest.raises(ValueError, match="out must hold n = 10"):
        tk.decode(packed, 10, 1.0, out=torch.empty(9))
    with pytest.raises(ValueError, match="accumulate=True needs out"):
        tk.decode(packed, 10, 1.0, accumulate=True)
    with pytest.raises(ValueError, match="scale must be finite"):
        tk.decode(packed, 10, float("nan"))
    with pytest.raises(ValueError, match="mode must be"):
        comm.TernGradState(mode="median")


# --- the DDP hook over gloo (loopback) ---------------------------------------------------------------

def _check_hook_run(results, world, mode, seed=11):
    calls = len(results[0]["log"])
    assert calls >= 2  # two steps, at least one bucket each
    for c in range(calls):
        names = results[0]["log"][c]["names"]
        keep = results[0]["log"][c]["keep"]
        assert any(keep) and not all(keep)  # the logits layer float, the rest ternary
        per_rank = [[torch.tensor(v) for v in results[r]["log"][c]["before"]] for r in range(world)]
        want = comm.reference_average(per_rank, keep, seed=seed, call=c, mode=mode)
        for r in range(world):
            assert results[r]["log"][c]["names"] == names
            got = [torch.tensor(v) for v in results[r]["log"][c]["after"]]
            for name, k, a, b in zip(names, keep, got, want):
                if k:  # fp32 all_reduce: summation order is gloo's
                    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
                else:
                    assert torch.equal(a, b), (c, r, name)
    b = results[0]["bytes"]
    assert b["fp32_bytes"] / b["payload_bytes"] > 3  # small model: the float logits layer weighs in
    assert b["numel"] * 4 == b["fp32_bytes"]


def test_hook_over_gloo_equals_reference_average_and_nan_stops_every_rank():
    results = run_ranks("sparsebench.methods.terngrad.rank_checks:hook_rank", 2, timeout_s=120)
    for mode in ("max", "std"):
        _check_hook_run([r[mode] for r in results], 2, mode)
    # NaN on one rank: every rank raises in the same step (none is left waiting)
    assert all(r["nan"].startswith("FloatingPointError") and "NaN/Inf" in r["nan"] for r in results)


def test_hook_world_size_one_still_ternarizes(tmp_path):
    import torch.distributed as dist

    from sparsebench.methods.terngrad.rank_checks import _hook_run

    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        res = _hook_run(0, 1, seed=11, mode="max", steps=2, nan=False)
    finally:
        dist.destroy_process_group()
    _check_hook_run([res], 1, "max")


def test_dead_rank_fails_the_exchange_with_a_clear_message():
    with pytest.raises(RankFailure) as info:
        run_ranks("sparsebench.methods.terngrad.rank_checks:dies_in_exchange", 2, timeout_s=30)
    assert info.value.how in ("exit", "error")


def test_hanging_rank_fails_within_the_timeout():
    import time

    t0 = time.monotonic()
    with pytest.raises(RankFailure) as info:
        run_ranks("sparsebench.methods.terngrad.rank_checks:hangs_in_exchange", 2, timeout_s=8)
    assert time.monotonic() - t0 < 60  # bounded: never a hang (not a timing assertion on speed)
    assert info.value.how in ("timeout", "error")


# --- harness cases and claims ---------------------------------------------------------------------

def test_bench_cases_build_and_count_the_bytes_sent():
    from sparsebench.catalogue import profile
    from sparsebench.methods import get_method

    m = get_method("terngrad")
    cases = list(m.cases(profile("smoke")))
    assert {c.stage for c in cases} == {"encode", "decode"}
    for case in cases:
        sb = m.build(case)
        assert set(sb.impls) == set(m.impl_names(case)) and sb.ratio_to == "torch-copy"
        for fn in sb.impls.values():
            fn()
        n = sb.info["grad_numel"]
        assert sb.info["ternary_bytes"] == (n + 3) // 4 + 4 and sb.info["fp32_bytes"] == 4 * n


def _rec(kind, case, metrics):
    return {"kind": kind, "case": {"suite": "terngrad", **case}, "metrics": metrics, "machine": {}}


def test_claims_read_the_methods_own_records():
    from sparsebench import claims

    loaded = {c.id: c for c in claims.load_claims()}
    n = 11_173_962
    ex = [_rec("exchange", {"layer": "resnet18-grad", "ranks": r},
               {"numel": n, "payload_bytes": (n + 3) // 4 + 8, "bytes_ratio_fp32": 4 * n / ((n + 3) // 4 + 8),
                "ring_wire_bytes_fp32": 2.0 * (r - 1) / r * 4 * n, "ring_wire_bytes": (r - 1) * ((n + 3) // 4 + 8)})
          for r in (2, 4)]
    v = claims.evaluate(loaded["terngrad-communication-1/16"], ex)
    assert v.verdict == "reproduced" and v.value == pytest.approx(16.0, rel=1e-5)
    acc = [_rec("ddp-train", {"ranks": 2, "lr": 0.01, "scheme": s}, {"accuracy": a})
           for s, a in (("dense", 0.96), ("terngrad", 0.955), ("terngrad-clip", 0.97))]
    for cid in ("terngrad-alexnet-no-accuracy-loss", "terngrad-googlenet-accuracy-loss-under-2pct"):
        v = claims.evaluate(loaded[cid], acc)
        assert v.verdict == "different setup" and v.value == pytest.approx(0.25)
    assert claims.evaluate(loaded["terngrad-alexnet-no-accuracy-loss"], []).verdict == "not measured"
