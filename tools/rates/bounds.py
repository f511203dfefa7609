"""What bounds one weight-sparse stage kernel: its time split into measured phases.

For each cell (layer, scheme, stage):
  speedup   ours against the faster torch-dense layout, with the harness's own interleaved
            timer beside the same implementations a `sparsebench run` round holds;
  phases    ours called back to back with the kernels' phase timer on (_kernels.phase_profile):
            the 'layout:*' passes (phase-plane packing / unpacking, input preparation, padding,
            transposes, zero fills; the largest is named), 'plan' (offsets, row groups, tile
            lists), and 'core' = the call's wall time minus both (the microkernels, plus the
            binding's checks and output allocation);
  core rate the stage's useful FLOPs over the core time, against --ceiling (the CSR row x vector
            loop alone, tools/rates/probes/mb.cpp: 37-45 GFLOP/s on AVX-512 with its input in
            L1 / L2, 22-25 from a 4 MB window; measure it on your machine);
  write     the output-write floor: a fresh output-sized tensor allocated and written once, back
            to back like the calls above.
The bound is 'layout conversion' where layout takes >= 40 % of the call, 'output write' where the
floor is >= 50 % of it, else the inner loop: 'at its ceiling' when the core runs at >= 50 % of
--ceiling (loads per FMA), 'below its ceiling' otherwise (per-nonzero index decode and broadcast,
short rows, tile edges). Development aid for issue 19.

  python tools/rates/bounds.py --cell LAYER:SCHEME:STAGE [--cell ...] [--s 0.9] [--threads 1]
         [--rounds 7] [--ceiling 45]
  python tools/rates/bounds.py --pick results/rates/s09_t1.json [--pick ...]   (per scheme and
         stage, the layers of worst and median efficiency in those runs, at --s and --threads)
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def _per_call(fn, seconds: float = 0.3, min_calls: int = 3) -> tuple[float, int]:
    """Median seconds per call over calls made back to back for about `seconds`."""
    ts: list[float] = []
    t_end = time.perf_counter() + seconds
    while len(ts) < min_calls or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), len(ts)


def picked_cells(paths: list[str], s: float, threads: int) -> list[str]:
    """Per (scheme, stage) of the runs' weight-sparse cells at s and threads: the layers of worst
    and of median efficiency (a cell in several files: the last file's)."""
    from sparsebench.harness.table import table_rows
    from sparsebench.measure import load_records

    effs_by: dict[tuple[str, str, str], float] = {}
    for path in paths:
        for r in table_rows(load_records(path)):
            eff = r.get("sparsebench efficiency")
            if r["suite"] == "weight_sparse" and r["sparsity"] == s and r["threads"] == threads and eff is not None:
                effs_by[(r["scheme"], r["stage"], r["layer"])] = eff
    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for (scheme, stage, layer), eff in effs_by.items():
        groups.setdefault((scheme, stage), []).append((eff, layer))
    cells = []
    for (scheme, stage), effs in sorted(groups.items()):
        effs.sort()
        for layer in dict.fromkeys((effs[0][1], effs[len(effs) // 2][1])):
            cells.append(f"{layer}:{scheme}:{stage}")
    return cells


def measure_cell(layer: str, scheme: str, stage: str, s: float, threads: int, rounds: int, ceiling: float) -> dict:
    from sparsebench import _kernels
    from sparsebench.cases import OURS, BenchCase
    from sparsebench.measure.timer import time_interleaved
    from sparsebench.methods.static_mask import bench as smb

    sb = smb.build(BenchCase("weight_sparse", layer, scheme, stage, s, threads))
    ours = sb.impls[OURS]
    med = {k: t.median_s for k, t in time_interleaved(sb.impls, rounds=rounds, max_total_s=60.0).items()}
    dense = min(v for k, v in med.items() if k.startswith("torch-dense"))
    out_shape = tuple(ours().shape)
    _kernels.phase_times()
    _kernels.phase_profile(True)
    try:
        t0 = time.perf_counter()
        call_s, calls = _per_call(ours)
        wall = time.perf_counter() - t0
        phases = {k: v * call_s / wall for k, v in _kernels.phase_times().items()}  # per median call
    finally:
        _kernels.phase_profile(False)
    write_s, _ = _per_call(lambda: torch.empty(out_shape).fill_(0.0))
    passes = {k.split(":", 1)[1]: v for k, v in phases.items() if k.startswith("layout:")}
    layout, plan = sum(passes.values()), phases.get("plan", 0.0)
    top_pass = max(passes, key=passes.get) if passes else "-"
    core = max(call_s - layout - plan, 1e-12)
    core_rate = sb.effective_flops / core / 1e9
    if layout >= 0.4 * call_s:
        bound = "layout conversion"
    elif write_s >= 0.5 * call_s:
        bound = "output write"
    elif core_rate >= 0.5 * ceiling:
        bound = "inner loop at its ceiling"
    else:
        bound = "inner loop below its ceiling"
    return {"layer": layer, "scheme": scheme, "stage": stage, "s": s, "threads": threads,
            "speedup": dense / med[OURS], "call_ms": call_s * 1e3, "layout_ms": layout * 1e3,
            "plan_ms": plan * 1e3, "top_pass": top_pass, "top_pass_ms": passes.get(top_pass, 0.0) * 1e3, "core_ms": core * 1e3, "core_gflops": core_rate, "write_ms": write_s * 1e3,
            "useful_gflops": sb.effective_flops / call_s / 1e9, "bound": bound}


HEADER = ("| layer | scheme | stage | speedup | ours ms | layout ms (%) | largest pass ms | plan ms (%) | core ms (%) | "
          "core useful GFLOP/s | output-write floor ms (%) | bound |\n" + "|---" * 12 + "|")


def row(r: dict) -> str:
    pct = lambda v: f"{v:.2f} ({100 * v / r['call_ms']:.0f} %)"  # noqa: E731
    return (f"| {r['layer']} | {r['scheme']} | {r['stage']} | {r['speedup']:.2f} | {r['call_ms']:.2f} | "
            f"{pct(r['layout_ms'])} | {r['top_pass']} {r['top_pass_ms']:.2f} | {pct(r['plan_ms'])} | {pct(r['core_ms'])} | {r['core_gflops']:.1f} | "
            f"{pct(r['write_ms'])} | {r['bound']} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", action="append", default=[], help="LAYER:SCHEME:STAGE, repeatable")
    ap.add_argument("--pick", metavar="RESULTS", action="append", default=[],
                    help="add the worst and median layer per scheme and stage of a run (repeatable: later files win)")
    ap.add_argument("--s", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ceiling", type=float, default=45.0,
                    help="inner-loop ceiling, GFLOP/s (default 45: probes/mb.cpp on the reference machine)")
    a = ap.parse_args(argv)
    cells = a.cell + (picked_cells(a.pick, a.s, a.threads) if a.pick else [])
    if not cells:
        ap.error("give --cell or --pick")
    torch.set_num_threads(a.threads)
    print(HEADER)
    for cell in cells:
        layer, scheme, stage = cell.split(":")
        print(row(measure_cell(layer, scheme, stage, a.s, a.threads, a.rounds, a.ceiling)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
