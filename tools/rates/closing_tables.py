"""Markdown tables for issue 19's closing note from `sparsebench run` result files: per-stage
speedups (efficiency) at one sparsity per layer and scheme, per thread count; break-even
sparsity per scheme and stage; ours vs SparseProp on the layer step; the sparse-dO backward.

    python tools/rates/closing_tables.py results/rates/*.json > tables.md

A case measured in several files counts once: the file given last wins (a re-run of some layers
after a kernel change, listed after the full run, replaces their records).
"""

import sys
from collections import defaultdict

from sparsebench.harness.table import break_even, table_rows
from sparsebench.measure import load_records

STAGES = ("forward", "backward_data", "weight_grad_sampled")
ACT_STAGES = ("front_end", "backward_data", "weight_grad", "backward")


def cell(row):
    if row is None or row.get("sparsebench") is None:
        return "-"
    return f"{row['sparsebench']:.2f} ({row['sparsebench efficiency']:.2f})"


def main(paths):
    latest: dict[tuple, dict] = {}
    for p in paths:
        for r in load_records(p):
            case = r.get("case", {})
            key = (r.get("kind"), case.get("id"), case.get("impl"))
            if case.get("id") is None:  # machine / roofs records: keep every one
                key = (len(latest),)
            latest.pop(key, None)
            latest[key] = r
    recs = list(latest.values())
    rows = table_rows(recs)
    ws = [r for r in rows if r["suite"] == "weight_sparse" and r["stage"] in STAGES]
    by = {(r["layer"], r["scheme"], r["stage"], r["threads"], r["sparsity"]): r for r in ws}
    for t in sorted({r["threads"] for r in ws}):
        print(f"\n#### s = 0.9, {t} thread(s): speedup over the faster torch-dense layout (efficiency)\n")
        print("| layer | scheme | " + " | ".join(STAGES) + " | useful GFLOP/s (fwd, ours / dense) |")
        print("|---" * (3 + len(STAGES)) + "|")
        for layer, scheme in sorted({(r["layer"], r["scheme"]) for r in ws if r["threads"] == t}):
            f = by.get((layer, scheme, "forward", t, 0.9))
            gf = f"{f['ours GFLOP/s']:.1f} / {f['dense GFLOP/s']:.1f}" if f and f["ours GFLOP/s"] else "-"
            print(f"| {layer} | {scheme} | " + " | ".join(cell(by.get((layer, scheme, st, t, 0.9))) for st in STAGES)
                  + f" | {gf} |")
    # break-even: the lowest swept sparsity from which ours stays >= 1x, per layer; worst / median
    print("\n#### Break-even sparsity, 1 thread (lowest swept s from which ours stays >= 1x; swept "
          + ", ".join(f"{s:g}" for s in sorted({r['sparsity'] for r in ws if r['threads'] == 1})) + ")\n")
    print("| scheme | stage | layers | median layer | worst layer | never >= 1x at 0.9 |")
    print("|---|---|---|---|---|---|")
    curves = defaultdict(dict)
    for r in ws:
        if r["threads"] == 1 and r["sparsebench"] is not None:
            curves[(r["scheme"], r["stage"], r["layer"])][r["sparsity"]] = r["sparsebench"]
    per = defaultdict(list)
    for (scheme, stage, layer), c in curves.items():
        per[(scheme, stage)].append((break_even(c), layer))
    for (scheme, stage), lst in sorted(per.items()):
        found = sorted(b for b, _ in lst if b is not None)
        never = [layer for b, layer in lst if b is None]
        med = f"{found[len(found) // 2]:g}" if found else "-"
        worst = f"{found[-1]:g}" if found and not never else ("never" if never else "-")
        print(f"| {scheme} | {stage} | {len(lst)} | {med} | {worst} | {', '.join(sorted(never)) or '-'} |")
    step = [r for r in rows if r["suite"] == "weight_sparse" and r["stage"] == "step" and r.get("sparseprop")]
    if step:
        print("\n#### Layer step (unstructured), 1 thread: speedup over torch-dense, ours and SparseProp\n")
        print("| layer | s | ours | SparseProp | ours / SparseProp |")
        print("|---|---|---|---|---|")
        for r in sorted(step, key=lambda r: (r["layer"], r["sparsity"])):
            o, p = r["sparsebench"], r["sparseprop"]
            ratio = f"{o / p:.2f}" if isinstance(o, float) and isinstance(p, float) else "-"
            ps = f"{p:.2f}" if isinstance(p, float) else str(p)
            print(f"| {r['layer']} | {r['sparsity']:g} | {o:.2f} | {ps} | {ratio} |")
    act = [r for r in rows if r["suite"] == "actgrad" and r["scheme"] == "actgrad-captured"]
    if act:
        print("\n#### Activation-gradient backward from captured dO, 1 thread: speedup (efficiency) at the density "
              "reached\n")
        print("| layer | prune rate | dO density | " + " | ".join(ACT_STAGES) + " |")
        print("|---" * (3 + len(ACT_STAGES)) + "|")
        ab = {(r["layer"], r["sparsity"], r["stage"]): r for r in act}
        for layer, s in sorted({(r["layer"], r["sparsity"]) for r in act}):
            d = next((ab[(layer, s, st)]["density"] for st in ACT_STAGES if (layer, s, st) in ab), None)
            cells = []
            for st in ACT_STAGES:
                r = ab.get((layer, s, st))
                if r is None or r.get("sparsebench") is None:
                    cells.append("-")
                elif r.get("sparsebench efficiency") is None:
                    cells.append(f"{r['sparsebench']:.2f}")
                else:
                    cells.append(cell(r))
            print(f"| {layer} | {s:g} | {d:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
