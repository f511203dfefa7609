"""The selection benchmark: the k-th largest |x| (and the top-K set) by sparsebench's kernel vs
torch.topk and torch.kthvalue, sizes x threads, medians of interleaved rounds.

  python -m sparsebench.methods.swat.selectbench [--sizes 1e6 1e7 5e7] [--threads 1 2] [--keep 0.1] [--out F]

--out appends one "swat_select" result record per size x threads (the report's SWAT section
shows them); --json writes the bare rows.

torch gets |x| precomputed outside timing (its best case); ours reads x itself. Columns:
  ours-select   threshold + tie counts (what kthvalue gives)
  ours-topk     threshold + the kept values and indices (row CSR, what topk gives)
"""

from __future__ import annotations

import argparse
import json

import torch

from ...measure.timer import time_interleaved
from . import kernels as sk


SELECT_KIND = "swat_select"


def measure(n: int, threads: int, keep: float = 0.1, rounds: int = 5, max_s: float = 20.0) -> dict:
    x = torch.randn(n, generator=torch.Generator().manual_seed(n))
    a = x.abs()
    k = max(1, int(keep * n))
    cols = 1 << 16
    fns = {
        "ours-select": lambda: sk.select(x, k, threads=threads),
        "ours-topk": lambda: sk.topk_compress(x, k, cols, threads=threads),
        "torch.topk": lambda: torch.topk(a, k, sorted=False),
        "torch.kthvalue": lambda: torch.kthvalue(a, n - k + 1),
    }
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # the answer is the same value whichever way it is found
        assert sk.select(x, k, threads=threads).threshold == float(torch.kthvalue(a, n - k + 1).values)
        t = time_interleaved(fns, rounds=rounds, max_total_s=max_s)
    finally:
        torch.set_num_threads(old)
    med = {name: v.median_s for name, v in t.items()}
    return {"n": n, "k": k, "threads": threads, "median_s": med,
            "topk_over_ours_select": med["torch.topk"] / med["ours-select"],
            "topk_over_ours_topk": med["torch.topk"] / med["ours-topk"],
            "kthvalue_over_ours_select": med["torch.kthvalue"] / med["ours-select"],
            "passes": sk.select(x, k, threads=threads).passes}


def table(rows: list[dict]) -> str:
    head = ("| n | threads | ours select ms | ours top-K ms | torch.topk ms | torch.kthvalue ms | "
            "topk / ours select | topk / ours top-K | kthvalue / ours select |")
    out = [head, "|" + "---|" * 9]
    for r in rows:
        m = r["median_s"]
        out.append(f"| {r['n']:.0e} | {r['threads']} | {1e3 * m['ours-select']:.2f} | {1e3 * m['ours-topk']:.2f} | "
                   f"{1e3 * m['torch.topk']:.1f} | {1e3 * m['torch.kthvalue']:.1f} | {r['topk_over_ours_select']:.1f}x | "
                   f"{r['topk_over_ours_topk']:.1f}x | {r['kthvalue_over_ours_select']:.1f}x |")
    return "\n".join(out)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7, 5e7])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--keep", type=float, default=0.1, help="kept fraction k / n")
    p.add_argument("--json", help="also write the rows here")
    p.add_argument("--out", help="append 'swat_select' result records to this results file, row by row")
    args = p.parse_args(argv)
    store = machine = None
    if args.out:
        from ...harness.run import compact_machine
        from ...kernels import resolve_isa
        from ...measure import ResultStore, machine_record

        store, machine = ResultStore(args.out), compact_machine(machine_record(), resolve_isa(None))
    rows = []
    for n in args.sizes:
        for t in args.threads:
            rows.append(measure(int(n), t, args.keep))
            if store is not None:  # one record per row: an interrupted run keeps what it measured
                from ...measure import make_record

                r = rows[-1]
                store.append(make_record(SELECT_KIND, {"id": f"swat/select/n{r['n']}/k{r['k']}/t{t}", "n": r["n"],
                                                       "k": r["k"], "threads": t}, r, machine))
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
