"""Merging's report section: accuracy of merged vs plainly pruned networks at the same size, no
fine-tuning, per size and data set, from the experiment's "accuracy" records (experiment.py),
mean and min-max over seeds; a text table and a figure."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

# variants in table / legend order: no fine-tuning first; prune+finetune is the reference
VARIANTS = ("prune", "merge", "surgery", "prune+finetune")


def merging_records(records) -> list[dict]:
    """The newest merging record per (machine, data set, scheme, sparsity, seed)."""
    best: dict[tuple, dict] = {}
    for r in records:
        c = r.get("case") or {}
        if r.get("kind") != "accuracy" or c.get("method") != "merging" or str(c.get("scheme", "")).count("/") != 2:
            continue
        key = ((r.get("machine") or {}).get("id", "?"), c.get("dataset", "?"), c["scheme"],
               round(float(c["sparsity"]), 9), c.get("seed", 0))
        if key not in best or str(r.get("created", "")) >= str(best[key].get("created", "")):
            best[key] = r
    return list(best.values())


def _spread(values) -> tuple[float, float, float] | None:
    v = list(values)
    return (sum(v) / len(v), min(v), max(v)) if v else None


def grid(records) -> dict[tuple, dict]:
    """(machine, data set, net/layer) -> {"dense": spread, "seeds": [...], "rows": {removed: {variant:
    spread, "delta": spread of (merge - prune) per seed, in points}}}."""
    acc: dict[tuple, dict] = defaultdict(lambda: defaultdict(dict))  # group -> (variant, s) -> seed -> acc
    for r in merging_records(records):
        c = r["case"]
        net, layer, variant = c["scheme"].split("/")
        acc[((r.get("machine") or {}).get("id", "?"), c.get("dataset", "?"), f"{net}/{layer}")][
            (variant, round(float(c["sparsity"]), 9))][c.get("seed", 0)] = float(r["metrics"]["accuracy"])
    out = {}
    for key in sorted(acc, key=str):
        cells = acc[key]
        dense = cells.get(("dense", 0.0), {})
        rows: dict[float, dict] = {}
        for s in sorted({s for v, s in cells if v != "dense"}):
            row = {v: _spread(cells.get((v, s), {}).values()) for v in VARIANTS}
            pr, mg = cells.get(("prune", s), {}), cells.get(("merge", s), {})
            row["delta"] = _spread(100.0 * (mg[k] - pr[k]) for k in mg if k in pr)
            rows[s] = row
        seeds = sorted({k for d in cells.values() for k in d})
        out[key] = {"dense": _spread(dense.values()), "seeds": seeds, "rows": rows}
    return out


def _cell(sp, fmt=".3f") -> str:
    return "-" if sp is None else f"{sp[0]:{fmt}} [{sp[1]:{fmt}}, {sp[2]:{fmt}}]"


def tables(records) -> list[str]:
    g = grid(records)
    if not g:
        return []
    machines = sorted({k[0] for k in g})
    seeds = sorted({s for v in g.values() for s in v["seeds"]})
    lines = [f"merging: accuracy of merged vs plainly pruned networks at the same size, NO fine-tuning "
             f"(prune+finetune: the L1 recipe for reference); seeds {','.join(map(str, seeds))}, mean [min, max] "
             f"over seeds; machine {', '.join(machines)}",
             "  merge - prune: per seed, same trained network, in accuracy points",
             f"  {'data set':8s} {'net/layer':10s} {'removed':>7s} {'dense':>21s} " +
             " ".join(f"{v:>21s}" for v in VARIANTS) + f" {'merge - prune (pts)':>22s}"]
    for (machine, ds, net), v in g.items():
        for s, row in v["rows"].items():
            lines.append(f"  {ds:8s} {net:10s} {s:7.0%} {_cell(v['dense']):>21s} " +
                         " ".join(f"{_cell(row[var]):>21s}" for var in VARIANTS) +
                         f" {_cell(row['delta'], '+.2f'):>22s}" + (f"  {machine}" if len(machines) > 1 else ""))
    return ["\n".join(lines)]


def figures(records, out: Path) -> list[tuple[str, str]]:
    """A panel per (data set, net/layer): accuracy vs fraction of units removed per variant
    (mean over seeds, bars min-max), the unpruned network dashed."""
    from matplotlib.figure import Figure

    from ...reports.plots import PALETTE, _save, _title

    g = grid(records)
    if not g:
        return []
    machines = sorted({k[0] for k in g})
    datasets = sorted({k[1] for k in g})
    nets = sorted({k[2] for k in g})
    fig = Figure(figsize=(max(8.0, 4.0 * len(nets) + 0.8), 3.4 * len(datasets) + 1.2))
    seeds_all: set = set()
    for i, ds in enumerate(datasets):
        for j, net in enumerate(nets):
            ax = fig.add_subplot(len(datasets), len(nets), i * len(nets) + j + 1)
            lows = []
            for machine in machines:
                v = g.get((machine, ds, net))
                if v is None:
                    continue
                seeds_all.update(v["seeds"])
                xs = sorted(v["rows"])
                for k, var in enumerate(VARIANTS):
                    pts = [(x, v["rows"][x][var]) for x in xs if v["rows"][x][var] is not None]
                    if not pts:
                        continue
                    ys = [p[1][0] for p in pts]
                    lows += [p[1][1] for p in pts]
                    dx = 0.006 * (k - 1.5)  # variants side by side, so the seeds' bars do not overlap
                    ax.errorbar([p[0] + dx for p in pts], ys, yerr=[[p[1][0] - p[1][1] for p in pts], [p[1][2] - p[1][0] for p in pts]],
                                fmt="o" + (":" if var == "prune+finetune" else "-"), ms=4, capsize=2, lw=1,
                                color=PALETTE[k % len(PALETTE)],
                                label=var + (" (fine-tuned)" if var == "prune+finetune" else "")
                                + (f", {machine}" if len(machines) > 1 else ""))
                if v["dense"] is not None:
                    ax.axhline(v["dense"][0], color="grey", ls="--", lw=1, label="unpruned")
                    lows.append(v["dense"][1])
            ax.set_ylim(max(0.0, min(lows or [0.9]) - 0.03), 1.0)
            ax.set_xlabel(f"fraction of {net.split('/')[1]} units removed")
            ax.set_ylabel("test accuracy")
            ax.set_title(f"{ds}: {net}", fontsize=9)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=6, loc="lower left")
    seeds = ",".join(map(str, sorted(seeds_all)))
    _title(fig, f"Neuron merging vs plain pruning, no fine-tuning, {', '.join(datasets)}",
           f"{', '.join(machines)} | seeds {seeds}: mean, bars min-max | small offline data, not the paper's VGG-16 / CIFAR-10")
    name = _save(fig, out, "merging-vs-pruning.png", top=0.86 if len(datasets) > 1 else 0.8, hspace=0.5)
    return [(name, f"Merged vs plainly pruned accuracy without fine-tuning (and pruned + fine-tuned for reference), "
                   f"per size, on {', '.join(datasets)}; machines {', '.join(machines)}; seeds {seeds} "
                   "(mean, bars min-max over seeds).")]
