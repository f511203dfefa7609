"""SSL's report section: accuracy vs learned structured sparsity from the lambda sweep's
records (sweep.py: kind "accuracy", method "ssl", a ``structured_sparsity`` metric), with the
seeds' spread (mean and min-max over seeds), as a text table and a figure."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

COLLAPSED = 0.5  # mean test accuracy below this (10 classes): the run lost its classifier
MODES = {"sweep-prox": "proximal step", "sweep-subgrad": "authors' subgradient"}


def sweep_records(records) -> list[dict]:
    """The newest sweep record per (machine, data set, scheme, epochs, lambda, seed)."""
    best: dict[tuple, dict] = {}
    for r in records:
        c, m = r.get("case") or {}, r.get("metrics") or {}
        if r.get("kind") != "accuracy" or c.get("method") != "ssl" or "structured_sparsity" not in m:
            continue
        key = ((r.get("machine") or {}).get("id", "?"), c.get("dataset", "?"), c.get("scheme", "?"),
               c.get("epochs"), round(float(c["sparsity"]), 9), c.get("seed", 0))
        if key not in best or str(r.get("created", "")) >= str(best[key].get("created", "")):
            best[key] = r
    return list(best.values())


def _spread(values) -> tuple[float, float, float]:
    v = list(values)
    return sum(v) / len(v), min(v), max(v)


def points(records) -> dict[tuple, list[dict]]:
    """(machine, data set, scheme, epochs) -> one point per lambda (ascending): lambda, seeds,
    accuracy and structured sparsity as (mean, min, max), and per layer the MACs kept (mean)."""
    runs: dict[tuple, dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in sweep_records(records):
        c = r["case"]
        runs[((r.get("machine") or {}).get("id", "?"), c.get("dataset", "?"), c.get("scheme", "?"), c.get("epochs"))][
            float(c["sparsity"])].append(r)
    out: dict[tuple, list[dict]] = {}
    for key in sorted(runs, key=str):
        pts = []
        for lam in sorted(runs[key]):
            rs = sorted(runs[key][lam], key=lambda r: r["case"].get("seed", 0))
            layers = sorted({n for r in rs for n in (r["metrics"].get("layers") or {})}, key=str)
            kept = {n: sum(r["metrics"]["layers"][n]["flop_fraction"] for r in rs if n in r["metrics"]["layers"])
                    / sum(1 for r in rs if n in r["metrics"]["layers"]) for n in layers}
            pts.append({"lam": lam, "seeds": [r["case"].get("seed", 0) for r in rs],
                        "accuracy": _spread(r["metrics"]["accuracy"] for r in rs),
                        "structured": _spread(r["metrics"]["structured_sparsity"] for r in rs), "kept": kept})
        out[key] = pts
    return out


def _seeds_text(pts) -> str:
    seeds = sorted({s for p in pts for s in p["seeds"]})
    counts = sorted({len(p["seeds"]) for p in pts})
    return f"seeds {','.join(map(str, seeds))} ({'/'.join(map(str, counts))} per lambda)"


def tables(records) -> list[str]:
    out = []
    for (machine, dataset, scheme, epochs), pts in points(records).items():
        layers = sorted({n for p in pts for n in p["kept"]}, key=str)
        head = (f"ssl: accuracy vs structured sparsity, {dataset}, the accuracy CNN, {epochs} epochs, "
                f"{MODES.get(scheme, scheme)} on rows + columns; {_seeds_text(pts)}; machine {machine}\n"
                "  structured sparsity = fraction of the regularized layers' multiply-adds the compaction removes; "
                "mean [min, max] over seeds")
        lines = [head, f"  {'lambda':>7s} {'n':>2s} {'accuracy mean [min, max]':>24s} {'structured sparsity':>24s}"
                       f"  MACs kept per layer ({' / '.join(layers)}, mean)"]
        for p in pts:
            a, s = p["accuracy"], p["structured"]
            kept = " / ".join(f"{p['kept'][n]:.2f}" if n in p["kept"] else "-" for n in layers)
            acc, st = f"{a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}]", f"{s[0]:.3f} [{s[1]:.3f}, {s[2]:.3f}]"
            lines.append(f"  {p['lam']:7.3g} {len(p['seeds']):2d} {acc:>24s} {st:>24s}  {kept}")
        out.append("\n".join(lines))
    return out


def figures(records, out: Path) -> list[tuple[str, str]]:
    """One figure: a panel per data set, accuracy vs structured sparsity, a point per lambda
    (mean over seeds, bars min-max in both directions), one line per (scheme, epochs, machine)."""
    from matplotlib.figure import Figure

    from ...reports.plots import PALETTE, _save, _title

    pts = points(records)
    if not pts:
        return []
    datasets = sorted({k[1] for k in pts})
    machines = sorted({k[0] for k in pts})
    fig = Figure(figsize=(max(8.0, 4.6 * len(datasets) + 0.6), 4.4))
    seeds_all = set()
    for i, ds in enumerate(datasets):
        ax = fig.add_subplot(1, len(datasets), i + 1)
        keys = [k for k in pts if k[1] == ds]
        # a collapsed run (mean accuracy near chance) is marked on the bottom edge, not drawn to 0.1
        good = [p["accuracy"][1] for k in keys for p in pts[k] if p["accuracy"][0] >= COLLAPSED]
        bottom = max(0.0, min(good or [0.9]) - 0.05)
        for j, key in enumerate(keys):
            machine, _, scheme, epochs = key
            color = PALETTE[j % len(PALETTE)]
            ps = [p for p in pts[key] if p["accuracy"][0] >= COLLAPSED]
            seeds_all.update(s for p in pts[key] for s in p["seeds"])
            label = f"{MODES.get(scheme, scheme)}, {epochs} ep" + (f", {machine}" if len(machines) > 1 else "")
            if ps:
                xs = [p["structured"][0] for p in ps]
                ys = [p["accuracy"][0] for p in ps]
                xerr = [[p["structured"][0] - p["structured"][1] for p in ps],
                        [p["structured"][2] - p["structured"][0] for p in ps]]
                yerr = [[p["accuracy"][0] - p["accuracy"][1] for p in ps], [p["accuracy"][2] - p["accuracy"][0] for p in ps]]
                ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="o-", ms=4, capsize=2, lw=1, color=color, label=label)
                for p, x, y in zip(ps, xs, ys):
                    ax.annotate(f"λ={p['lam']:g}", (x, y), textcoords="offset points", xytext=(3, 4), fontsize=6)
            for p in pts[key]:
                if p["accuracy"][0] < COLLAPSED:
                    ax.plot([p["structured"][0]], [bottom], "v", color=color, ms=6, clip_on=False)
                    ax.annotate(f"λ={p['lam']:g}: collapsed\n(acc {p['accuracy'][0]:.2f})", (p["structured"][0], bottom),
                                textcoords="offset points", xytext=(-40, 8), fontsize=6)
        ax.set_ylim(bottom, 1.0)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("structured sparsity (multiply-adds removed by compaction)")
        ax.set_ylabel("test accuracy")
        ax.set_title(ds, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    seeds = ",".join(map(str, sorted(seeds_all)))
    _title(fig, f"SSL: accuracy vs learned structured sparsity (group Lasso, rows + columns), {', '.join(datasets)}",
           f"{', '.join(machines)} | seeds {seeds}: mean, bars min-max\nsmall offline data, not the paper's ImageNet")
    name = _save(fig, out, "ssl-accuracy-vs-structure.png", top=0.78, bottom=0.13, left=0.09)
    return [(name, f"SSL accuracy vs structured sparsity (lambda sweep; accuracy CNN) on {', '.join(datasets)}; "
                   f"machines {', '.join(machines)}; seeds {seeds} (mean, bars min-max over seeds); a triangle on the "
                   "bottom edge marks a lambda whose runs collapsed to chance accuracy (see the table).")]
