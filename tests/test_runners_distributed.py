"""The multi-process runner: ranks over torch.distributed (gloo, loopback), results gathered in
rank order; a rank that fails, dies or hangs fails the run with its rank named, never a hang."""

import os
import time

import pytest
import torch
import torch.distributed as dist

from sparsebench.runners.distributed import LOOPBACK, RankFailure, run_ranks

HERE = "test_runners_distributed"


def all_reduce_sum(rank, world, numel):
    t = torch.full((numel,), float(rank + 1))
    dist.all_reduce(t)
    return {"rank": rank, "world": world, "sum": float(t[0]), "backend": dist.get_backend()}


def fail_on_rank_one(rank, world):
    if rank == 1:
        raise ValueError("rank one refuses")
    dist.barrier()
    return rank


def die_on_rank_one(rank, world):
    if rank == 1:
        os._exit(3)
    dist.barrier()
    return rank


def hang_on_rank_one(rank, world):
    if rank == 1:
        time.sleep(600)
    return rank


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    # the ranks import this module by name, from the tests folder
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p))


@pytest.mark.parametrize("world", [2, 4])
def test_ranks_reduce_over_gloo_on_loopback(world):
    out = run_ranks(f"{HERE}:all_reduce_sum", world, kwargs={"numel": 1000}, timeout_s=120)
    assert [r["rank"] for r in out] == list(range(world))
    assert all(r["world"] == world and r["backend"] == "gloo" for r in out)
    assert all(r["sum"] == world * (world + 1) / 2 for r in out)


def test_a_rank_that_raises_fails_the_run_with_its_message():
    with pytest.raises(RankFailure, match="rank one refuses") as info:
        run_ranks(f"{HERE}:fail_on_rank_one", 2, timeout_s=60)
    assert info.value.rank == 1 and info.value.how == "error"


def test_a_rank_that_dies_fails_the_run():
    t0 = time.monotonic()
    with pytest.raises(RankFailure) as info:
        run_ranks(f"{HERE}:die_on_rank_one", 2, timeout_s=60)
    assert info.value.rank == 1 and info.value.how == "exit" and "code 3" in str(info.value)
    assert time.monotonic() - t0 < 60


def test_a_hanging_rank_is_killed_at_the_timeout():
    t0 = time.monotonic()
    with pytest.raises(RankFailure, match="no result within") as info:
        run_ranks(f"{HERE}:hang_on_rank_one", 2, timeout_s=8)
    assert info.value.how == "timeout" and info.value.rank == 1
    assert time.monotonic() - t0 < 30


def test_bad_arguments_are_refused_before_any_rank_starts():
    with pytest.raises(ValueError, match="world_size"):
        run_ranks(f"{HERE}:all_reduce_sum", 0)
    with pytest.raises(ValueError, match="timeout_s"):
        run_ranks(f"{HERE}:all_reduce_sum", 2, timeout_s=0)
    with pytest.raises(ValueError, match="module:function"):
        run_ranks("no_colon_here", 2)
    assert LOOPBACK == "127.0.0.1"


def test_the_cause_is_named_whichever_report_arrives_first():
    # a rank that raises tears its group down, so its peer's barrier fails too, and that report can
    # reach the parent first: the run names the earliest error, and a rank that died over any error
    from sparsebench.runners.distributed import _root_cause

    peer = RankFailure(0, "error", "RuntimeError: Connection closed by peer")
    cause = RankFailure(1, "error", "ValueError: rank one refuses")
    assert _root_cause([(peer, 101.0), (cause, 100.0)]) is cause
    died = RankFailure(3, "exit", "ended (code 3) without a result")
    assert _root_cause([(peer, 99.0), (died, 100.0)]) is died
