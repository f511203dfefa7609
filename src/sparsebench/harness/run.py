"""Run catalogue cases: time every implementation interleaved, probe memory, write records."""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path
from typing import Callable, Iterable

import torch

from .. import kernels
from ..catalogue import BenchCase
from ..measure import (
    ResultStore,
    default_results_path,
    flop_reduction,
    machine_id,
    machine_record,
    make_record,
    measure_peak_delta,
    speedup,
    time_interleaved,
)
from .stages import OURS, Unavailable, build

BASELINE = "torch-dense"


@contextlib.contextmanager
def torch_threads(n: int):
    """torch's intra-op threads for the baselines, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def compact_machine(record: dict, isa: str) -> dict:
    """The machine facts every record carries; the full record is stored once per file."""
    git = record.get("git") or {}
    return {
        "id": machine_id(record),
        "cpu": (record.get("cpu") or {}).get("brand"),
        "arch": record.get("arch"),
        "logical_cores": record.get("logical_cores"),
        "isa": isa,
        "torch": (record.get("torch") or {}).get("version"),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
    }


def stage_metrics(bench, timings: dict, memory: dict) -> dict[str, dict]:
    """impl -> metrics of one case's interleaved timings (speedups only against the torch-dense
    timing of the same process run)."""
    reduction = flop_reduction(bench.dense_flops, bench.effective_flops) if bench.dense_flops else None
    out = {}
    for name, timing in timings.items():
        metrics = {
            "median_s": timing.median_s,
            "iqr_s": timing.iqr_s,
            "samples": len(timing.samples),
            "dense_flops": bench.dense_flops,
            "effective_flops": bench.effective_flops,
            "flop_reduction": reduction,
            "peak_delta_bytes": memory[name].peak_delta_bytes,
            "memory_method": memory[name].method,
            "tensor_bytes": bench.tensor_bytes.get(name),
            **bench.info,
        }
        if BASELINE in timings:
            s = speedup(timings[BASELINE], timing)
            metrics["speedup_vs_torch_dense"] = s
            metrics["efficiency"] = s / reduction if reduction and math.isfinite(reduction) else None
        if bench.effective_flops and timing.median_s > 0:
            metrics["effective_gflops"] = bench.effective_flops / timing.median_s / 1e9
        if bench.bytes_moved and timing.median_s > 0:
            metrics["gbytes_per_s"] = bench.bytes_moved / timing.median_s / 1e9
        out[name] = metrics
    return out


def measure_case(case: BenchCase, *, rounds: int = 7, max_case_s: float = 20.0) -> list[tuple[str, dict]]:
    """(impl, metrics) for every implementation of one case; raises Unavailable."""
    bench = build(case)
    with torch_threads(case.threads):
        timings = time_interleaved(bench.impls, rounds=rounds, max_total_s=max_case_s)
        memory = {name: measure_peak_delta(fn) for name, fn in bench.impls.items()}
    return list(stage_metrics(bench, timings, memory).items())


def measure_peer(runner, case: BenchCase, ctx: dict, machine: dict, ours: dict | None, *, rounds: int) -> dict:
    """The peer's record for one case: a "stage" record (impl sparseprop) or a "peer-error" one.
    ``ours`` (our metrics of the same case, if measured) is used to check both measured one mask."""
    from ..peers import PEER
    from ..peers.child import PeerFailure

    pctx = {**ctx, "impl": PEER}
    try:
        metrics = runner.measure(case, rounds=rounds)
    except PeerFailure as exc:
        return make_record("peer-error", pctx, exc.to_metrics(), {**machine, "threads": case.threads})
    if ours is not None:
        metrics["nnz_ours"] = ours.get("nnz")
        same = ours.get("mask_digest") == metrics.get("mask_digest") and ours.get("nnz") == metrics.get("nnz_sparseprop")
        metrics["same_mask"] = same
        if not same:
            return make_record("peer-error", pctx, {
                "status": "mask-mismatch",
                "error": f"sparseprop measured nnz {metrics.get('nnz_sparseprop')} (mask {metrics.get('mask_digest')}), "
                         f"ours nnz {ours.get('nnz')} (mask {ours.get('mask_digest')})",
                **metrics}, {**machine, "threads": case.threads})
    return make_record("stage", pctx, metrics, {**machine, "threads": case.threads})


def run_cases(
    cases: Iterable[BenchCase],
    *,
    results_dir: Path = Path("results"),
    out: Path | None = None,
    rounds: int = 7,
    progress: Callable[[int, int, BenchCase], None] | None = None,
    peers: bool = True,
    peer_timeout_s: float | None = None,
) -> Path:
    """Measure cases one by one, appending records atomically as each completes.

    With ``peers`` (default), every case a peer applies to (SparseProp: unstructured weights,
    forward / backward / step) also gets the peer's record, measured in a child process after
    ours; when the peer is not installed that record is a "peer-error" saying so.
    """
    from ..peers import applies
    from ..peers.child import DEFAULT_TIMEOUT_S, PeerRunner

    cases = list(cases)
    isa = kernels.resolve_isa(None)
    full = machine_record(isa=isa)
    machine = compact_machine(full, isa)
    path = out or default_results_path(results_dir, full)
    store = ResultStore(path)
    store.append(make_record("machine", {}, {}, full))
    runner = PeerRunner(timeout_s=peer_timeout_s or DEFAULT_TIMEOUT_S) if peers else None
    try:
        for i, case in enumerate(cases):
            if progress:
                progress(i, len(cases), case)
            ctx = {**case.to_dict(), "id": case.id}
            ours = None
            try:
                measured = measure_case(case, rounds=rounds)
            except Unavailable as exc:
                store.append(make_record("unavailable", ctx, {"reason": str(exc)}, machine))
            except Exception as exc:  # a failing case is a result too; the run goes on
                store.append(make_record("error", ctx, {"error": f"{type(exc).__name__}: {exc}"}, machine))
                print(f"error in {case.id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            else:
                store.extend([make_record("stage", {**ctx, "impl": impl}, metrics,
                                          {**machine, "threads": case.threads}) for impl, metrics in measured])
                ours = dict(measured).get(OURS)
            if runner is not None and applies(case):
                store.append(measure_peer(runner, case, ctx, machine, ours, rounds=rounds))
    finally:
        if runner is not None:
            runner.close()
    if progress:
        progress(len(cases), len(cases), None)
    return path
