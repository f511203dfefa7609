"""Run benchmark cases: each method's implementations timed in this process (runners.inprocess),
their memory in a fresh child process per case (runners.memory), each applicable peer in its
child process (runners.child), records written atomically."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterable

from .. import kernels
from ..cases import OURS, BenchCase, Unavailable
from ..measure import ResultStore, default_results_path, machine_id, machine_record, make_record
from ..methods import build
from ..runners.inprocess import measure_bench


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


def geometry(case: BenchCase) -> dict | None:
    """The full shape of a case's layer (catalogue or a user's own), recorded with every case."""
    import dataclasses

    try:
        return dataclasses.asdict(case.layer_spec.shape)
    except (KeyError, ValueError):
        return None


def _refuse_if_too_large(case: BenchCase) -> None:
    """MemoryError when the case's estimated working set (memlimit's byte model) does not fit."""
    from ..memlimit import case_working_set_bytes, refuse_if_too_large

    try:
        shape = case.layer_spec.shape
    except (KeyError, ValueError):
        return
    refuse_if_too_large(case_working_set_bytes(shape), f"{case.id}")


def measure_case(case: BenchCase, *, rounds: int = 7, max_case_s: float = 20.0,
                 baseline_layout: str = "best") -> list[tuple[str, dict]]:
    """(impl, metrics) for every in-process implementation of one case; raises Unavailable."""
    from ..measure import Conv2dShape

    two_d = not isinstance(case.layer_spec.shape, Conv2dShape)
    return list(measure_bench(build(case), case.threads, rounds=rounds, max_case_s=max_case_s,
                              baseline_layout=baseline_layout, two_d=two_d).items())


def add_memory(measured: list[tuple[str, dict]], case: BenchCase, runner) -> None:
    """Merge the case's fresh-child memory figures into each implementation's metrics; a failure
    leaves them None and says why."""
    from ..runners.memory import MemoryFailure

    try:
        memory = runner.measure(case)
    except MemoryFailure as exc:
        for _, metrics in measured:
            metrics.update({"peak_delta_bytes": None, "memory_method": "unavailable",
                            "memory_error": f"{exc.status}: {exc}"})
        return
    for impl, metrics in measured:
        metrics.update(memory.get(impl) or {"peak_delta_bytes": None, "memory_method": "unavailable"})


def measure_peer(runner, peer: str, case: BenchCase, ctx: dict, machine: dict, ours: dict | None, *,
                 rounds: int) -> dict:
    """The peer's record for one case: a "stage" record or a "peer-error" one. ``ours`` (our
    metrics of the same case, if measured) is used to check both measured one mask."""
    from ..runners.child import ChildFailure

    pctx = {**ctx, "impl": peer}
    where = {**machine, "threads": case.threads}
    try:
        metrics = runner.measure(case, rounds=rounds)
    except ChildFailure as exc:
        return make_record("peer-error", pctx, exc.to_metrics(), where)
    if ours is not None:
        metrics["nnz_ours"] = ours.get("nnz")
        # the peer derives its mask from the masked weight's nonzeros: its own count must match ours
        same = ours.get("mask_digest") == metrics.get("mask_digest") and ours.get("nnz") == metrics.get("peer_nnz")
        metrics["same_mask"] = same
        if not same:
            return make_record("peer-error", pctx, {
                "status": "mask-mismatch",
                "error": f"{peer} measured nnz {metrics.get('peer_nnz')} (mask {metrics.get('mask_digest')}), "
                         f"ours nnz {ours.get('nnz')} (mask {ours.get('mask_digest')})",
                **metrics}, where)
    return make_record("stage", pctx, metrics, where)


def run_cases(
    cases: Iterable[BenchCase],
    *,
    results_dir: Path = Path("results"),
    out: Path | None = None,
    rounds: int = 7,
    progress: Callable[[int, int, BenchCase], None] | None = None,
    peers: bool = True,
    peer_timeout_s: float | None = None,
    memory: bool = True,
    baseline_layout: str = "best",
    refused: Iterable[tuple[BenchCase, str]] = (),
) -> Path:
    """Measure cases one by one, appending records atomically as each completes.

    ``refused``: (case, reason) pairs recorded as "unavailable" up front.
    With ``peers`` (default), every case a peer applies to also gets the peer's record, measured
    in its child process after ours; when the peer is not installed that record is a
    "peer-error" saying so. With ``memory`` (default), each case's memory is measured in a
    fresh child process (runners.memory). ``baseline_layout``: "best" (the faster torch-dense
    layout), "nchw" or "channels_last".
    """
    from ..peers import peers_for
    from ..runners.child import DEFAULT_TIMEOUT_S, ChildRunner

    cases = list(cases)
    isa = kernels.resolve_isa(None)
    full = machine_record(isa=isa)
    machine = compact_machine(full, isa)
    path = out or default_results_path(results_dir, full)
    store = ResultStore(path)
    store.append(make_record("machine", {}, {}, full))
    # cases a method cannot build here (e.g. a format that cannot hold the layer's geometry)
    store.extend([make_record("unavailable", {**c.to_dict(), "id": c.id}, {"reason": why}, machine)
                  for c, why in refused])
    # the roofline's roofs at every thread count of the run, measured before any case
    from ..measure.roofs import machine_roofs

    for t in sorted({c.threads for c in cases}):
        try:
            store.append(make_record("roofs", {}, machine_roofs(t), {**machine, "threads": t}))
        except (MemoryError, RuntimeError) as exc:  # a figure's roofs never stop the measurements
            print(f"roofs at {t} thread(s) not measured: {type(exc).__name__}: {exc}", file=sys.stderr)
    runners: dict[str, ChildRunner] = {}
    mem_runner = None
    try:
        for i, case in enumerate(cases):
            if progress:
                progress(i, len(cases), case)
            ctx = {**case.to_dict(), "id": case.id, "geometry": geometry(case)}
            ours = None
            try:
                _refuse_if_too_large(case)
                measured = measure_case(case, rounds=rounds, baseline_layout=baseline_layout)
                if memory:
                    if mem_runner is None or mem_runner.proc.poll() is not None:
                        from ..runners.memory import MemoryRunner

                        mem_runner = MemoryRunner()
                    add_memory(measured, case, mem_runner)
            except (Unavailable, MemoryError) as exc:  # MemoryError: refused up front, nothing allocated
                store.append(make_record("unavailable", ctx, {"reason": str(exc)}, machine))
            except Exception as exc:  # a failing case is a result too; the run goes on
                store.append(make_record("error", ctx, {"error": f"{type(exc).__name__}: {exc}"}, machine))
                print(f"error in {case.id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            else:
                store.extend([make_record("stage", {**ctx, "impl": impl}, metrics,
                                          {**machine, "threads": case.threads}) for impl, metrics in measured])
                ours = dict(measured).get(OURS)
            for peer in (peers_for(case) if peers else ()):
                runner = runners.get(peer.PEER)
                if runner is None:
                    runner = runners[peer.PEER] = ChildRunner(peer.__name__,
                                                              timeout_s=peer_timeout_s or DEFAULT_TIMEOUT_S)
                store.append(measure_peer(runner, peer.PEER, case, ctx, machine, ours, rounds=rounds))
    finally:
        for runner in runners.values():
            runner.close()
        if mem_runner is not None:
            mem_runner.close()
    if progress:
        progress(len(cases), len(cases), None)
    return path
