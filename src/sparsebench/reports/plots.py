"""The report's figures (matplotlib, no pyplot state: Figure objects rendered with Agg).

Each function writes PNGs into `out` and returns [(file name, caption)], or [] when its data is
absent, so the page can say which figure was skipped and why.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from statistics import median

from matplotlib.figure import Figure

from .. import stages as stage_vocab
from ..harness.table import break_even, break_even_label, rates
from .data import BASELINE, OURS, caption, median_curve, speedup_curves

DPI = 100
PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
           "tab:cyan", "tab:grey")
# periodic, not per training step: left out of the per-step time breakdown
PERIODIC_STAGES = ("mask_update",)


def _colors(recs) -> dict[str, str]:
    """One colour per scheme, the same in every figure of a report."""
    schemes = sorted({r["case"]["scheme"] for r in recs})
    return {sc: PALETTE[i % len(PALETTE)] for i, sc in enumerate(schemes)}


def _suites(recs) -> list[str]:
    return sorted({r["case"]["suite"] for r in recs if r.get("kind") == "stage"})


def _stages_of(recs, suite: str) -> list[str]:
    """The stages measured in a suite, in the vocabulary's order."""
    seen = {r["case"]["stage"] for r in recs if r["case"]["suite"] == suite}
    return [st for st in stage_vocab.STAGES if st in seen]


def _rate_label(suite: str) -> str:
    """What a suite's x axis means (its method says; reports also work where methods cannot load)."""
    try:
        from ..methods import method_for_suite

        return method_for_suite(suite).rate_label
    except Exception:  # noqa: BLE001 - no torch / no kernels here: a neutral label
        return "sparsity"


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-")


def _save(fig: Figure, out: Path, name: str, **margins) -> str:
    # Fixed margins instead of tight_layout: one draw per figure instead of two (reports are
    # drawn on shared 2-core machines, and tests draw them too).
    adjust = {"left": 0.1, "right": 0.97, "top": 0.84, "bottom": 0.13, "wspace": 0.3, "hspace": 0.55}
    fig.subplots_adjust(**{**adjust, **margins})
    fig.savefig(out / name, dpi=DPI)
    return name


def _title(fig: Figure, what: str, cap: str) -> None:
    fig.suptitle(f"{what}\n{cap}", fontsize=9)


def speedup_vs_sparsity(recs, machine, info, threads, out: Path) -> list[tuple[str, str]]:
    """One figure per (suite, stage): median over layers per scheme (thin lines: each layer),
    the ideal 1/(1-s), the break-even line, and each scheme's break-even sparsity marked."""
    made = []
    cap = caption(machine, info, threads)
    colors = _colors(recs)
    for suite in _suites(recs):
        for stage in _stages_of(recs, suite):
            curves = speedup_curves(recs, machine, threads, suite, stage)
            if not curves:
                continue
            fig = Figure(figsize=(7, 4.6))
            ax = fig.add_subplot()
            all_s = sorted({s for per in curves.values() for pts in per.values() for s in pts})
            grid = [s / 100 for s in range(0, 100)] + [0.99]
            ideal_s = [s for s in grid if all_s[0] <= s <= all_s[-1]] or all_s
            ax.plot(ideal_s, [1 / (1 - s) for s in ideal_s], "k:", lw=1, label="ideal 1/(1-s)")
            ax.axhline(1.0, color="grey", lw=0.8)
            for scheme, per_layer in sorted(curves.items()):
                color = colors.get(scheme)
                for pts in per_layer.values():
                    xs = sorted(pts)
                    ax.plot(xs, [pts[x] for x in xs], color=color, lw=0.6, alpha=0.35)
                med = median_curve(per_layer)
                xs = sorted(med)
                ax.plot(xs, [med[x] for x in xs], "o-", color=color, lw=2,
                        label=f"{scheme} (median of {len(per_layer)} layers)")
                be = break_even(med)
                if be is not None:
                    ax.plot([be], [med[be]], marker="*", ms=14, color=color, mec="black", ls="none")
                    ax.annotate(f"break-even {break_even_label(med)}", (be, med[be]), textcoords="offset points",
                                xytext=(-70, 6) if be >= 0.8 else (4, -12),  # stay inside the axes
                                fontsize=7, color=color)
            ax.set_yscale("log")
            ax.set_xlabel(_rate_label(suite))
            ax.set_ylabel(f"speedup vs {BASELINE} (log)")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
            _title(fig, f"{suite} / {stage}: speedup vs sparsity (star = break-even)", cap)
            name = _save(fig, out, f"speedup-{_slug(machine)}-t{threads}-{suite}-{stage}.png")
            made.append((name, f"{suite} {stage}: speedup of {OURS} over {BASELINE} vs sparsity. {cap}"))
    return made


def _nearest(values, target: float) -> float | None:
    return min(values, key=lambda v: abs(v - target)) if values else None


def time_breakdown(recs, machine, info, threads, out: Path, target_s: float = 0.9) -> list[tuple[str, str]]:
    """Stacked per-stage times, ours vs torch-dense, per suite and scheme, summed over the layers
    every atomic per-step stage of that scheme was measured on (ours and dense), at s = 0.9 (or
    the nearest sparsity measured)."""
    made = []
    for suite in _suites(recs):
        made += _time_breakdown(recs, suite, machine, info, threads, out, target_s)
    return made


def _time_breakdown(recs, suite, machine, info, threads, out: Path, target_s: float) -> list[tuple[str, str]]:
    mine = [r for r in recs if r["machine"]["id"] == machine and r["case"]["threads"] == threads
            and r["case"]["suite"] == suite and r["case"]["impl"] in (OURS, BASELINE)]
    s = _nearest(sorted({float(r["case"]["sparsity"]) for r in mine}), target_s)
    if s is None:
        return []
    t: dict = defaultdict(dict)  # (scheme, layer) -> (impl, stage) -> seconds
    for r in mine:
        c = r["case"]
        if abs(float(c["sparsity"]) - s) < 1e-9:
            t[(c["scheme"], c["layer"])][(c["impl"], c["stage"])] = r["metrics"]["median_s"]
    # atomic stages only: composites ("backward", "step") are sums of these and would be counted twice
    stages = [st for st in _stages_of(mine, suite) if st in stage_vocab.ATOMIC and st not in PERIODIC_STAGES]
    schemes = sorted({k[0] for k in t})
    totals = {}
    for scheme in schemes:
        layers = [layer for (sc, layer), v in t.items() if sc == scheme
                  and all((i, st) in v for i in (OURS, BASELINE) for st in stages)]
        if layers:
            totals[scheme] = ({i: [sum(t[(scheme, l)][(i, st)] for l in layers) for st in stages]
                               for i in (OURS, BASELINE)}, layers)
    if not totals:
        return []
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.add_subplot()
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:grey"]
    x = 0.0
    ticks, labels = [], []
    for scheme, (by_impl, layers) in totals.items():
        for j, impl in enumerate((OURS, BASELINE)):
            bottom = 0.0
            for k, st in enumerate(stages):
                v = by_impl[impl][k] * 1e3
                ax.bar(x + j * 0.4, v, 0.38, bottom=bottom, color=colors[k], edgecolor="white",
                       label=st if (scheme == next(iter(totals)) and j == 0) else None)
                bottom += v
            ticks.append(x + j * 0.4)
            labels.append("ours" if impl == OURS else "dense")
        ax.text(x + 0.2, max(sum(by_impl[OURS]), sum(by_impl[BASELINE])) * 1e3 * 1.02, scheme,
                ha="center", va="bottom", fontsize=8)
        x += 1.2
    ax.set_xticks(ticks, labels, fontsize=7)
    ax.set_ylabel("time summed over layers (ms)")
    ax.margins(y=0.12)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    cap = caption(machine, info, threads)
    nlayers = ", ".join(f"{sc}: {len(v[1])}" for sc, v in totals.items())
    _title(fig, f"{suite}: time per stage at s = {s:g}, {OURS} (ours) vs {BASELINE} (dense)", cap)
    name = _save(fig, out, f"breakdown-{_slug(machine)}-t{threads}-{suite}.png", right=0.8, top=0.86)
    return [(name, f"{suite}: per-stage time at s = {s:g}, stacked, ours vs dense, summed over layers ({nlayers}). "
                   f"{cap}")]


# memory figures are drawn only from the fresh-process measurement (runners.memory); older records
# measured after the timing loop (allocator cache and scratch resident) are left out
FRESH_MEMORY = "fresh child"
MEMORY_METRICS = ("tensor_bytes", "peak_delta_bytes", "alloc_bytes")


def _usable(metrics: dict, metric: str) -> bool:
    if metric in ("peak_delta_bytes", "alloc_bytes", "alloc_peak_bytes"):
        return str(metrics.get("memory_method", "")).startswith(FRESH_MEMORY)
    return True


def _ratio_curves(recs, machine, threads, metric: str, suite: str) -> dict[str, dict[float, float]]:
    """scheme -> sparsity -> median over layers and stages of ours / torch-dense for a metric."""
    pairs: dict = defaultdict(dict)
    for r in recs:
        c = r["case"]
        if r["machine"]["id"] == machine and c["threads"] == threads and c["suite"] == suite:
            if not _usable(r["metrics"], metric):
                continue
            v = r["metrics"].get(metric)
            if v is not None:
                pairs[(c["scheme"], c["layer"], c["stage"], float(c["sparsity"]))][c["impl"]] = v
    by: dict = defaultdict(lambda: defaultdict(list))
    for (scheme, _, _, s), v in pairs.items():
        if v.get(OURS) is not None and v.get(BASELINE):
            by[scheme][s].append(v[OURS] / v[BASELINE])
    return {sc: {s: median(v) for s, v in sorted(d.items())} for sc, d in by.items()}


def memory_vs_sparsity(recs, machine, info, threads, out: Path) -> list[tuple[str, str]]:
    made = []
    for suite in _suites(recs):
        made += _memory_per_stage(recs, suite, machine, info, threads, out)
        made += _memory_vs_sparsity(recs, suite, machine, info, threads, out)
    return made


def _memory_per_stage(recs, suite, machine, info, threads, out: Path, target_s: float = 0.9) -> list[tuple[str, str]]:
    """Bars per layer / stage: peak-RSS delta and bytes allocated of one stage call, ours vs
    torch-dense, from the fresh-process measurement, at the sparsity nearest 0.9 (first scheme)."""
    rows: dict = defaultdict(dict)
    sp = {}
    for r in recs:
        c, m = r["case"], r["metrics"]
        if r["machine"]["id"] != machine or c["threads"] != threads or c["suite"] != suite:
            continue
        if c["impl"] not in (OURS, BASELINE) or not _usable(m, "peak_delta_bytes") or m.get("peak_delta_bytes") is None:
            continue
        key = (c["layer"], c["stage"])
        sp.setdefault(key, set()).add(float(c["sparsity"]))
        rows[key][(c["scheme"], float(c["sparsity"]), c["impl"])] = (m["peak_delta_bytes"], m.get("alloc_bytes"))
    bars = []
    for key in sorted(rows):
        s0 = _nearest(sorted(sp[key]), target_s)
        schemes = sorted({sc for (sc, s, _) in rows[key] if s == s0})
        for sc in schemes[:1]:
            ours, dense = rows[key].get((sc, s0, OURS)), rows[key].get((sc, s0, BASELINE))
            if ours and dense:
                bars.append((f"{key[0]}\n{key[1]}\n{sc}", ours, dense))
    if not bars:
        return []
    fig = Figure(figsize=(max(6.0, 0.9 * len(bars) + 2), 4.8))
    for i, (what, idx) in enumerate((("peak RSS delta", 0), ("bytes allocated (torch.profiler)", 1))):
        ax = fig.add_subplot(1, 2, i + 1)
        xs = range(len(bars))
        ax.bar([x - 0.2 for x in xs], [(b[1][idx] or 0) / 2**20 for b in bars], 0.4, label=OURS)
        ax.bar([x + 0.2 for x in xs], [(b[2][idx] or 0) / 2**20 for b in bars], 0.4, label=BASELINE)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([b[0] for b in bars], fontsize=5, rotation=90)
        ax.set_ylabel("MiB per stage call")
        ax.set_title(what, fontsize=8)
        ax.legend(fontsize=7)
    cap = caption(machine, info, threads)
    _title(fig, f"{suite}: memory of one stage call (fresh process per case, inputs allocated)", cap)
    name = _save(fig, out, f"memory-stage-{_slug(machine)}-t{threads}-{suite}.png", bottom=0.35)
    return [(name, f"{suite}: peak-RSS delta and bytes allocated of one stage call, {OURS} vs {BASELINE}, "
                   f"measured in a fresh child process per case. {cap}")]


def _memory_vs_sparsity(recs, suite, machine, info, threads, out: Path) -> list[tuple[str, str]]:
    panels = [(m, _ratio_curves(recs, machine, threads, m, suite)) for m in MEMORY_METRICS]
    panels = [(m, c) for m, c in panels if c]
    if not panels:
        return []
    colors = _colors(recs)
    fig = Figure(figsize=(4.2 * len(panels) + 1, 4.4))
    for i, (metric, curves) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        xs_all = sorted({s for c in curves.values() for s in c})
        ax.plot(xs_all, [1 - s for s in xs_all], "k:", lw=1, label="ideal 1-s (values only)")
        for scheme, pts in sorted(curves.items()):
            xs = sorted(pts)
            ax.plot(xs, [pts[x] for x in xs], "o-", color=colors.get(scheme), label=scheme)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xlabel(_rate_label(suite))
        ax.set_ylabel(f"{metric}: ours / {BASELINE}")
        ax.set_title(metric + " (median over layers, stages)", fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    cap = caption(machine, info, threads)
    _title(fig, f"{suite}: memory relative to torch-dense vs sparsity", cap)
    name = _save(fig, out, f"memory-{_slug(machine)}-t{threads}-{suite}.png")
    return [(name, f"{suite}: tensor bytes, peak-RSS delta and bytes allocated (fresh process per case), "
                   f"ours relative to {BASELINE}. {cap}")]


def efficiency_vs_sparsity(recs, machine, info, threads, out: Path) -> list[tuple[str, str]]:
    """efficiency = measured speedup / FLOP reduction, median over layers, one panel per stage."""
    made = []
    for suite in _suites(recs):
        made += _efficiency_vs_sparsity(recs, suite, machine, info, threads, out)
    return made


def _efficiency_vs_sparsity(recs, suite, machine, info, threads, out: Path) -> list[tuple[str, str]]:
    data: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in recs:
        c, m = r["case"], r["metrics"]
        if (r["machine"]["id"], c["threads"], c["suite"], c["impl"]) == (machine, threads, suite, OURS) \
                and m.get("efficiency") is not None:
            data[c["stage"]][c["scheme"]][float(c["sparsity"])].append(m["efficiency"])
    stages = [s for s in stage_vocab.STAGES if s in data]
    if not stages:
        return []
    colors = _colors(recs)
    fig = Figure(figsize=(3.2 * len(stages) + 1, 4.0))
    for i, stage in enumerate(stages):
        ax = fig.add_subplot(1, len(stages), i + 1)
        for scheme, pts in sorted(data[stage].items()):
            xs = sorted(pts)
            ax.plot(xs, [median(pts[x]) for x in xs], "o-", color=colors.get(scheme), label=scheme)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(stage, fontsize=9)
        ax.set_xlabel(_rate_label(suite))
        if i == 0:
            ax.set_ylabel("efficiency = speedup / FLOP reduction")
        ax.grid(True, alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    cap = caption(machine, info, threads)
    _title(fig, f"{suite}: efficiency vs sparsity (1 = sparse kernel runs at dense's useful-FLOP rate)", cap)
    name = _save(fig, out, f"efficiency-{_slug(machine)}-t{threads}-{suite}.png")
    return [(name, f"{suite}: efficiency per stage, median over layers. {cap}")]


def accuracy(acc_recs: list[dict], out: Path) -> list[tuple[str, str]]:
    """Per data set: one panel per method, accuracy vs sparsity per scheme (mean over seeds,
    bars from the lowest to the highest seed), the dense model of the same budget as a band; and
    the loss curves of seed 0."""
    from .data import accuracy_runs, accuracy_summary

    rows = accuracy_summary(acc_recs)
    runs = accuracy_runs(acc_recs)
    if not rows:
        return []
    machines = sorted({(r.get("machine") or {}).get("id", "?") for r in acc_recs})
    made = []
    for dataset in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == dataset]
        dense = [r for r in mine if r["method"] == "dense"]
        own = _own_accuracy_figures()
        methods = sorted({r["method"] for r in mine if r["method"] != "dense" and r["method"] not in own})
        if not methods:
            continue  # every method here draws its own (the table above still lists them)
        ncols = min(3, len(methods))
        nrows = (len(methods) + ncols - 1) // ncols
        fig = Figure(figsize=(4.4 * ncols + 0.6, 3.4 * nrows + 1.2))
        lowest = min(r["min"] for r in mine)
        for i, method in enumerate(methods):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            for j, d in enumerate(dense):
                ax.axhspan(d["min"], d["max"], color="0.85", zorder=0)
                ax.axhline(d["mean"], color="0.4", lw=1, ls="--" if j else "-",
                           label=f"dense ({len(d['seeds'])} seeds, {d['epochs']} ep)")
            lines: dict = defaultdict(list)
            for r in mine:
                if r["method"] == method and method != "dense":
                    lines[(r["scheme"], r["epochs"])].append(r)
            for k, (key, pts) in enumerate(sorted(lines.items(), key=lambda kv: str(kv[0]))):
                pts.sort(key=lambda r: r["sparsity"])
                xs = [r["sparsity"] for r in pts]
                ys = [r["mean"] for r in pts]
                err = [[r["mean"] - r["min"] for r in pts], [r["max"] - r["mean"] for r in pts]]
                seeds = max(len(r["seeds"]) for r in pts)
                ax.errorbar(xs, ys, yerr=err, fmt="o-", ms=3, lw=1, capsize=2, color=PALETTE[k % len(PALETTE)],
                            label=f"{key[0]} ({seeds} seed{'s' if seeds > 1 else ''})")
            ax.set_ylim(max(0.0, lowest - 0.05), 1.0)  # a 0.2-point difference must not look like a collapse
            ax.set_xlabel("sparsity (weight sparsity, pruning rate or fraction removed)", fontsize=8)
            ax.set_ylabel("test accuracy", fontsize=8)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=6)
            ax.set_title(method, fontsize=9)
        _title(fig, f"accuracy on {dataset}: mean over seeds, bars = lowest to highest seed (small offline data, "
                    "not the papers' CIFAR/ImageNet)", f"{', '.join(machines)} | baseline: dense model, grey band")
        name = _save(fig, out, f"accuracy-{_slug(dataset)}.png", top=0.86 if nrows > 1 else 0.8)
        made.append((name, f"Accuracy vs sparsity on {dataset} per method (mean and lowest-highest over seeds), dense "
                           f"as a band; machines {', '.join(machines)}."))
        curves = [(r, curve) for r in mine if (curve := _first_seed(runs, r)["metrics"].get("loss_curve"))]
        if curves:
            fig = Figure(figsize=(8, 4))
            ax = fig.add_subplot(1, 1, 1)
            for r, curve in curves[:40]:  # past 40 runs the lines are unreadable anyway
                ax.plot(range(1, len(curve) + 1), curve, lw=1, label=f"{r['method']}/{r['scheme']} s={r['sparsity']:g}")
            ax.set_xlabel("epoch")
            ax.set_ylabel("training loss")
            ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=5, ncol=3)
            _title(fig, f"training loss on {dataset}, first seed of each run"
                        + (f" (first 40 of {len(curves)} runs)" if len(curves) > 40 else ""), ", ".join(machines))
            made.append((_save(fig, out, f"loss-{_slug(dataset)}.png"), f"Training loss curves on {dataset}."))
    return made


def _own_accuracy_figures() -> set[str]:
    """Methods whose own report section draws their accuracy runs (Method.own_accuracy_figure)."""
    try:
        from ..methods import all_methods

        return {m.name for m in all_methods().values() if m.own_accuracy_figure}
    except Exception:  # noqa: BLE001 - methods cannot load here: draw everything
        return set()


def _first_seed(runs, row) -> dict:
    """The newest record of one summarized run at its first seed."""
    return runs[(row["dataset"], row["method"], row["scheme"], row["sparsity"], row["epochs"])][row["seeds"][0]]


def machine_comparison(recs, infos: dict, out: Path, target_s: float = 0.9) -> list[tuple[str, str]]:
    """Speedup per stage, machines side by side, one panel per scheme: median over the layers
    and thread counts each machine measured, at s = 0.9 (nearest measured)."""
    if len(infos) < 2:
        return []
    vals: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # scheme -> stage -> machine
    sp = sorted({float(r["case"]["sparsity"]) for r in recs})
    s = _nearest(sp, target_s)
    for r in recs:
        c, m = r["case"], r["metrics"]
        if c["impl"] == OURS and m.get("speedup_vs_torch_dense") is not None and abs(float(c["sparsity"]) - s) < 1e-9:
            vals[c["scheme"]][c["stage"]][r["machine"]["id"]].append(m["speedup_vs_torch_dense"])
    schemes = sorted(vals)
    if not schemes:
        return []
    machines = sorted(infos)
    ncols = min(3, len(schemes))
    nrows = (len(schemes) + ncols - 1) // ncols
    fig = Figure(figsize=(3.6 * ncols + 0.8, 3.2 * nrows + 1.4))
    width = 0.8 / len(machines)
    for i, scheme in enumerate(schemes):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        stages = [st for st in stage_vocab.STAGES if st in vals[scheme]]
        for j, mid in enumerate(machines):
            ys = [median(vals[scheme][st][mid]) if vals[scheme][st][mid] else 0 for st in stages]
            ax.bar([k + j * width for k in range(len(stages))], ys, width,
                   label=f"{mid} ({infos[mid]['arch']}, {'/'.join(sorted(infos[mid]['isa']))})")
        ax.set_xticks([k + width * (len(machines) - 1) / 2 for k in range(len(stages))], stages, fontsize=7,
                      rotation=20)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(scheme, fontsize=9)
        if i % ncols == 0:
            ax.set_ylabel(f"speedup vs {BASELINE}\n(median over layers)", fontsize=8)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(machines), fontsize=7)
    desc = "; ".join(f"{m}: threads {','.join(map(str, sorted(infos[m]['threads'])))}, commit "
                     f"{'/'.join(sorted(infos[m]['commit']))}" for m in machines)
    _title(fig, f"machines side by side at s = {s:g}, baseline {BASELINE}", desc)
    name = _save(fig, out, "machines.png", left=0.07, top=1 - 0.75 / fig.get_figheight(),
                 bottom=0.9 / fig.get_figheight())
    return [(name, f"Speedup per stage at s = {s:g}, machines side by side ({desc}).")]


def compare_ratios(cmp, out: Path) -> list[tuple[str, str]]:
    """A vs B: each matched case's A/B speedup ratio (> 1: B is worse), sorted, threshold lines."""
    if not cmp.rows:
        return []
    rows = sorted(cmp.rows, key=lambda r: r.ratio)
    fig = Figure(figsize=(7.5, 0.22 * len(rows) + 1.6))
    ax = fig.add_subplot()
    colors = ["tab:red" if r.flag(cmp.threshold) == "regression" else
              "tab:green" if r.flag(cmp.threshold) == "improvement" else "tab:grey" for r in rows]
    ax.barh(range(len(rows)), [r.ratio for r in rows], color=colors)
    ax.set_yticks(range(len(rows)), [f"{r.case} [{r.impl}]" for r in rows], fontsize=6)
    for x in (1.0, cmp.threshold, 1.0 / cmp.threshold):
        ax.axvline(x, color="black" if x == 1.0 else "grey", lw=0.8, ls="-" if x == 1.0 else ":")
    ax.set_xlabel("A speedup / B speedup (> 1: B slower)", fontsize=8)
    _title(fig, "A vs B per case", f"{len(cmp.regressions)} regressions, {len(cmp.improvements)} improvements "
                                   f"beyond {cmp.threshold:g}")
    name = _save(fig, out, "compare.png", left=0.55, right=0.95, top=1 - 0.9 / fig.get_figheight(),
                 bottom=0.75 / fig.get_figheight())
    return [(name, "A vs B: per-case ratio of speedups, red = regression, green = improvement.")]


def _latest_train(recs) -> list[dict]:
    best: dict[tuple, dict] = {}
    for r in recs:
        if r.get("kind") == "train" and (r.get("metrics") or {}).get("speedup"):
            key = ((r.get("machine") or {}).get("id"), r["case"].get("id"))
            if key not in best or str(r.get("created", "")) >= str(best[key].get("created", "")):
                best[key] = r
    return list(best.values())


def network_speedup(recs, out: Path) -> list[tuple[str, str]]:
    """Whole-network training-step speedup vs sparsity (or rate), one line per model x method
    scheme, per machine and thread count ("train" records of `sparsebench train` / validate)."""
    made = []
    train = [r for r in _latest_train(recs) if r["case"].get("world_size", 1) == 1]
    by: dict[tuple, dict] = {}
    for r in train:
        c = r["case"]
        key = (r["machine"].get("id"), c["threads"])
        by.setdefault(key, {}).setdefault(f"{c['model']} {c['scheme']}", {})[float(c["sparsity"])] = r["metrics"]["speedup"]
    for (machine, threads), lines in sorted(by.items()):
        fig = Figure(figsize=(7, 4.2))
        ax = fig.add_subplot()
        ax.axhline(1.0, color="grey", lw=0.8)
        for label, pts in sorted(lines.items()):
            xs = sorted(pts)
            ax.plot(xs, [pts[x] for x in xs], "o-", lw=1.8, label=label)
        ax.set_xlabel("weight sparsity s / pruning rate p")
        ax.set_ylabel("training-step speedup vs dense model")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        cap = f"{machine}, {threads} thread(s); dense and method steps timed interleaved in one process"
        _title(fig, "whole-network training step: speedup vs sparsity", cap)
        name = _save(fig, out, f"network-speedup-{_slug(machine)}-t{threads}.png")
        made.append((name, f"Whole-network step speedup (dense median / method median). {cap}"))
    return made


def network_breakdowns(recs, out: Path, target_s: float = 0.9) -> list[tuple[str, str]]:
    """The per-layer, per-stage stacked bars of each whole-network run nearest ``target_s``."""
    from ..train import figures

    made = []
    runs = {}
    for r in _latest_train(recs):
        c = r["case"]
        key = (r["machine"].get("id"), c["model"], c["scheme"], c["threads"], c.get("world_size", 1))
        if key not in runs or abs(c["sparsity"] - target_s) < abs(runs[key]["case"]["sparsity"] - target_s):
            runs[key] = r
    for (machine, model, scheme, threads, world), r in sorted(runs.items()):
        m = r["metrics"]
        b = m.get("breakdown") or {}
        if "dense" not in b or "method" not in b:
            continue
        infos = m.get("layers", [])
        name = f"network-breakdown-{_slug(machine)}-{_slug(model)}-{_slug(scheme)}-t{threads}-w{world}.png"
        title = (f"{model} {scheme} s={r['case']['sparsity']:g}, {threads} thread(s), {world} rank(s): "
                 f"step speedup {m['speedup']:.2f}x")
        figures.plot(b["dense"], b["method"], infos, scheme, title, out / name)
        made.append((name, f"{title}. {machine}; ms per step under torch.profiler"))
    return made


ROOFLINE_MARKERS = {"forward": "o", "backward_data": "s", "weight_grad": "^", "weight_grad_sampled": "^",
                    "backward": "D", "step": "P"}


def _roofs(records, machine: str, threads: int) -> dict | None:
    """The median of the run's measured roofs (kind "roofs") for this machine and thread count."""
    got = [r["metrics"] for r in records if r.get("kind") == "roofs" and r["machine"]["id"] == machine
           and r["metrics"].get("threads") == threads]
    if not got:
        return None
    return {k: median(m[k] for m in got) for k in ("gemm_gflops", "copy_gbps")}


def roofline(stage_recs, records, machine, info, threads, out: Path, target_s: float = 0.9) -> list[tuple[str, str]]:
    """Useful GFLOP/s vs arithmetic intensity (useful FLOPs per byte of the stage's tensors, its
    compulsory traffic), per suite at the sparsity nearest ``target_s``: ours per scheme (marker
    per stage) and the torch-dense baselines, under the roofs the run measured (dense GEMM rate,
    copy bandwidth)."""
    roofs = _roofs(records, machine, threads)
    made = []
    for suite in _suites(stage_recs):
        pts = [r for r in stage_recs if (r["machine"]["id"], r["case"]["threads"], r["case"]["suite"]) ==
               (machine, threads, suite) and r["metrics"].get("tensor_bytes") and r["metrics"].get("median_s")]
        s = _nearest(sorted({float(r["case"]["sparsity"]) for r in pts}), target_s)
        pts = [r for r in pts if float(r["case"]["sparsity"]) == s]
        ours = [r for r in pts if r["case"]["impl"] == OURS and r["metrics"].get("effective_flops")]
        if not ours:
            continue
        dense = [r for r in pts if r["case"]["impl"].startswith("torch-dense") and r["metrics"].get("dense_flops")]
        colors = _colors(stage_recs)
        fig = Figure(figsize=(9.5, 5.5))
        ax = fig.add_subplot(1, 1, 1)
        xs = []
        for r in dense:
            m = r["metrics"]
            x, y = m["dense_flops"] / m["tensor_bytes"], m["dense_flops"] / m["median_s"] / 1e9
            xs.append(x)
            ax.scatter(x, y, marker="x", color="grey", s=14, alpha=0.6)
        seen = set()
        for r in ours:
            c, m = r["case"], r["metrics"]
            x, y = m["effective_flops"] / m["tensor_bytes"], rates(m)[0]
            xs.append(x)
            label = c["scheme"] if c["scheme"] not in seen else None
            seen.add(c["scheme"])
            ax.scatter(x, y, marker=ROOFLINE_MARKERS.get(c["stage"], "o"), color=colors.get(c["scheme"]), s=22,
                       label=label)
        lo, hi = min(xs) / 2, max(xs) * 2
        if roofs:
            grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
            ax.plot(grid, [min(roofs["gemm_gflops"], roofs["copy_gbps"] * x) for x in grid], color="black", lw=1.2,
                    label=f"roofs: GEMM {roofs['gemm_gflops']:.0f} GFLOP/s, copy {roofs['copy_gbps']:.1f} GB/s")
        ax.scatter([], [], marker="x", color="grey", label="torch-dense (dense FLOPs)")
        for st, mk in ROOFLINE_MARKERS.items():
            if any(r["case"]["stage"] == st for r in ours):
                ax.scatter([], [], marker=mk, color="none", edgecolors="black", label=st)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("arithmetic intensity: useful FLOPs / bytes of the stage's tensors")
        ax.set_ylabel("useful GFLOP/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        cap = caption(machine, info, threads) + (f"; s = {s:g}" if s is not None else "")
        if not roofs:
            cap += "; no roofs measured in these runs (results from before roofs were recorded)"
        _title(fig, f"{suite}: roofline", cap)
        name = _save(fig, out, f"roofline-{_slug(machine)}-t{threads}-{suite}.png")
        made.append((name, f"{suite}: roofline at s = {s:g}, every layer and stage. {cap}"))
    return made
