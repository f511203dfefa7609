"""What bounds one weight-sparse stage kernel: its time split against measured floors.

For each cell (layer, scheme, stage) it times, with the harness's own interleaved timer and
beside the same implementations a `sparsebench run` round holds (torch.sparse included, so the
caches and the allocator are left as they are there):
  ours      the stage kernel, as `sparsebench run` calls it;
  dense     the faster torch-dense layout;
  touch     a fresh tensor of the stage's output size written once (allocation + first touch:
            the compulsory output traffic every implementation pays);
  pass      one copy of the stage's input activations into a fresh tensor (the floor of one
            layout conversion: read + write of the input once);
and derives
  core      the stage's useful FLOPs at the inner-loop ceiling (--ceiling GFLOP/s: a CSR
            row x vector loop alone, tools/rates/probes/mb.cpp, 58-66 GFLOP/s on AVX-512);
  rest      ours - touch - core, also in units of `pass` (the layout passes and loop overheads).
The bound named is the largest of touch, core and rest. Development aid for issue 19.

  python tools/rates/bounds.py --cell LAYER:SCHEME:STAGE [--cell ...] [--s 0.9] [--threads 1]
         [--rounds 7] [--ceiling 60]
"""
from __future__ import annotations

import argparse
import torch


def measure_cell(layer: str, scheme: str, stage: str, s: float, threads: int, rounds: int, ceiling: float) -> dict:
    from sparsebench.cases import OURS, BenchCase
    from sparsebench.measure.timer import time_interleaved
    from sparsebench.methods.static_mask import bench as smb

    case = BenchCase("weight_sparse", layer, scheme, stage, s, threads)
    sb = smb.build(case)
    _, _, x, _, dy, _, _, _ = smb.masked_problem(case)
    inp = dy if stage == "backward_data" else x
    out = sb.impls[OURS]()
    out_shape, in_t = tuple(out.shape), inp
    dense_names = [k for k in sb.impls if k.startswith("torch-dense")]
    fns = {**sb.impls, "touch": lambda: torch.empty(out_shape).fill_(0.0), "pass": lambda: in_t.clone()}
    med = {k: t.median_s for k, t in time_interleaved(fns, rounds=rounds, max_total_s=60.0).items()}
    med["ours"] = med[OURS]
    dense = min(med[k] for k in dense_names)
    core = sb.effective_flops / (ceiling * 1e9)
    rest = med["ours"] - med["touch"] - core
    parts = {"output write (first touch)": med["touch"], "inner loop at its ceiling": core,
             "layout passes and loop overhead": rest}
    return {"layer": layer, "scheme": scheme, "stage": stage, "s": s, "threads": threads,
            "ours_ms": med["ours"] * 1e3, "dense_ms": dense * 1e3, "speedup": dense / med["ours"],
            "touch_ms": med["touch"] * 1e3, "pass_ms": med["pass"] * 1e3, "core_ms": core * 1e3,
            "rest_ms": rest * 1e3, "rest_passes": rest / med["pass"] if med["pass"] > 0 else float("nan"),
            "useful_gflops": sb.effective_flops / med["ours"] / 1e9,
            "bound": max(parts, key=parts.get)}


HEADER = ("| layer | scheme | stage | ours ms | dense ms | speedup | output first touch ms (% of ours) | "
          "inner loop at ceiling ms (%) | rest ms (%, in input passes) | bound |\n|---|---|---|---|---|---|---|---|---|---|")


def row(r: dict) -> str:
    pct = lambda v: f"{v:.2f} ({100 * v / r['ours_ms']:.0f} %)"  # noqa: E731
    return (f"| {r['layer']} | {r['scheme']} | {r['stage']} | {r['ours_ms']:.2f} | {r['dense_ms']:.2f} | "
            f"{r['speedup']:.2f} | {pct(r['touch_ms'])} | {pct(r['core_ms'])} | "
            f"{pct(r['rest_ms'])}, {r['rest_passes']:.1f} passes of {r['pass_ms']:.2f} | {r['bound']} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", action="append", required=True, help="LAYER:SCHEME:STAGE, repeatable")
    ap.add_argument("--s", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ceiling", type=float, default=60.0, help="inner-loop ceiling, GFLOP/s (default 60)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(HEADER)
    for cell in a.cell:
        layer, scheme, stage = cell.split(":")
        print(row(measure_cell(layer, scheme, stage, a.s, a.threads, a.rounds, a.ceiling)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
