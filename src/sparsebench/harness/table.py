"""Speedup tables and break-even sparsities from stored result records."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from ..cases import OURS

BASELINE = "torch-dense"
BASELINE_CL = "torch-dense-channels_last"
# what the others are compared with, in column order
BASELINES = ("torch-sparse", BASELINE, BASELINE_CL, "torch-reference")
REFERENCE_IMPLS = (BASELINE, BASELINE_CL, "torch-reference")
LAYOUT_CHOICES = ("best", "nchw", "channels_last")  # --baseline-layout (sparsebench.baselines)
# how a speedup cell names the torch-dense layout it is against
LAYOUT_TAGS = {"nchw": "nc", "channels_last": "cl", "row-major": "rm"}


def speedup_of(m: dict, baseline_layout: str = "best") -> tuple[float | None, str | None]:
    """(speedup, layout) of one record's metrics against the torch-dense layout asked for: the
    one the run chose ("best": the faster layout timed), or NCHW / channels_last where that
    layout was timed (else the record's own baseline, named as such). Records from before
    layouts were recorded were taken against NCHW."""
    own = m.get("speedup_vs_torch_dense")
    own_layout = m.get("baseline_layout") or "nchw"
    if baseline_layout == "best" or own is None:
        return own, (own_layout if own is not None else None)
    val = m.get(f"speedup_vs_torch_dense_{baseline_layout}")
    if val is not None:
        return val, ("row-major" if own_layout == "row-major" else baseline_layout)
    return own, own_layout


def impl_columns(records: Iterable[dict]) -> list[str]:
    """Ours, then every other implementation in the records (peers), then the baselines; not an
    implementation timed only as a yardstick (one forward beside mask_update)."""
    seen = {r["case"]["impl"] for r in records if not (r.get("metrics") or {}).get("yardstick")}
    others = sorted(seen - {OURS, *BASELINES})
    return [i for i in (OURS, *others, *BASELINES) if i in seen]


def stage_records(records: Iterable[dict]) -> list[dict]:
    return [r for r in records if r.get("kind") == "stage"]


def latest(records: Iterable[dict]) -> list[dict]:
    """One record per (machine, case, impl): the newest, so re-runs supersede old figures."""
    best: dict[tuple, dict] = {}
    for r in stage_records(records):
        c = r["case"]
        key = (r["machine"].get("id"), c.get("id"), c.get("impl"))
        if key not in best or r["created"] >= best[key]["created"]:
            best[key] = r
    return list(best.values())


def break_even(points: dict[float, float]) -> float | None:
    """Lowest sparsity from which the speedup stays >= 1 at every higher measured sparsity."""
    found = None
    for s in sorted(points, reverse=True):
        if points[s] >= 1.0:
            found = s
        else:
            break
    return found


def break_even_label(points: dict[float, float]) -> str:
    """The break-even sparsity as text: '<= s' when even the lowest measured sparsity beats dense
    (the true break-even lies at or below it), '-' when it never does at the sparsities measured."""
    be = break_even(points)
    if be is None:
        return "-"
    return f"<={be:.2f}" if be == min(points) and be > 0 else f"{be:.2f}"


PEER_STATUS = {
    "not-installed": "not installed",
    "import-error": "import error",
    "timeout": "timeout",
    "mask-mismatch": "mask differs",
    "unavailable": "n/a",
    "error": "error",
    "protocol": "error",
}


def peer_status(records: Iterable[dict]) -> dict[tuple, str]:
    """(machine, case id, impl) -> short status of a peer that gave no timing ("not installed",
    "SIGSEGV", "timeout", ...), where that is newer than any timing of the same case."""
    newest: dict[tuple, dict] = {}
    for r in records:
        if r.get("kind") not in ("stage", "peer-error"):
            continue
        c = r["case"]
        key = (r["machine"].get("id"), c.get("id"), c.get("impl"))
        if key not in newest or r["created"] >= newest[key]["created"]:
            newest[key] = r
    out = {}
    for key, r in newest.items():
        if r["kind"] == "peer-error":
            m = r["metrics"]
            out[key] = m.get("signal") or PEER_STATUS.get(m.get("status"), m.get("status") or "error")
    return out


def _cell(value, eff, layout=None, width: int = 16) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, str):
        return f"{value[:width]:>{width}}"
    text = f"{value:.2f}" + (f" ({eff:.2f})" if eff is not None else "")
    if layout is not None:
        text += " " + LAYOUT_TAGS.get(layout, layout[:2])
    return f"{text:>{width}}"


FORMATS = ("text", "md", "csv", "json")
AGAINST = {"best": "the faster torch-dense layout of each case", "nchw": "torch-dense on NCHW",
           "channels_last": "torch-dense on channels_last"}


def note(baseline_layout: str = "best") -> str:
    return (f"speedup over {AGAINST[baseline_layout]} (efficiency = speedup / FLOP reduction); each speedup names "
            "the layout it is against: nc = NCHW, cl = channels_last, rm = row-major (linear); the torch-dense "
            "columns read as their speedup over that baseline (1.00 = the winner); peers' ratios come from their "
            "own child process (NCHW); front_end rows: GB/s; 'x fwd': ours' time as a multiple of one forward of "
            "the same layer (mask_update); density: nonzero fraction ours reached (weights, or pruned dO); "
            "GFLOP/s: ours' useful (effective FLOPs / median time); dense: the torch-dense baseline's GFLOP/s")


NOTE = note()


def _grid(records: list[dict], baseline_layout: str = "best"):
    """(grid, ours_time, impls): (machine, suite, layer, stage, scheme, threads) -> sparsity -> impl ->
    (speedup or status, efficiency); ours' (median ms, multiple of the case's yardstick); the
    implementation columns."""
    recs = latest(records)
    status = peer_status(records)
    grid: dict[tuple, dict[float, dict[str, tuple]]] = defaultdict(lambda: defaultdict(dict))
    ours_time: dict[tuple, dict[float, tuple]] = defaultdict(dict)
    for r in recs:
        c, m = r["case"], r["metrics"]
        if (r["machine"].get("id"), c.get("id"), c.get("impl")) in status:
            continue
        key = (r["machine"].get("id"), c["suite"], c["layer"], c["stage"], c["scheme"], c["threads"])
        val, layout = speedup_of(m, baseline_layout)
        if val is None and m.get("gbytes_per_s") is not None:
            val = m["gbytes_per_s"]
        red = m.get("flop_reduction")
        eff = None
        if c["impl"] not in REFERENCE_IMPLS and val is not None and layout is not None:
            eff = val / red if red and red != float("inf") else m.get("efficiency")
        grid[key][c["sparsity"]][c["impl"]] = (val, eff, layout)
        if c["impl"] == OURS:
            reached = m.get("sparsity_reached")
            ours_time[key][c["sparsity"]] = (m["median_s"] * 1e3, m.get("ratio_to_reference"),
                                             None if reached is None else 1.0 - reached, *rates(m))
    for (machine, case_id, impl), text in status.items():
        parts = case_id.rsplit("/", 3)  # suite/layer/scheme + stage, s<x>, t<n> (a layer spec may hold '/')
        head = parts[0].split("/", 1)
        if len(parts) != 4 or len(head) != 2 or "/" not in head[1]:
            continue
        suite, (layer, scheme), (stage, s, t) = head[0], head[1].rsplit("/", 1), parts[1:]
        key = (machine, suite, layer, stage, scheme, int(t[1:]))
        grid[key][float(s[1:])][impl] = (text, None, None)
    impls = [i for i in impl_columns([*recs, *(r for r in records if r.get("kind") == "peer-error")])
             if any(i in d for g in grid.values() for d in g.values())]
    return grid, ours_time, impls, recs


def rates(m: dict) -> tuple[float | None, float | None]:
    """(ours' useful GFLOP/s: effective FLOPs / median time, the torch-dense baseline's GFLOP/s:
    dense FLOPs / its median time) of one record's metrics; None where not recorded."""
    eff, dense, base = m.get("effective_flops"), m.get("dense_flops"), m.get("baseline_median_s")
    ours = m.get("effective_gflops")
    if ours is None and eff and m.get("median_s"):
        ours = eff / m["median_s"] / 1e9
    return ours, (dense / base / 1e9 if dense and base else None)


def table_rows(records: Iterable[dict], baseline_layout: str = "best") -> list[dict]:
    """The speedup table as one dict per (machine, suite, layer, stage, scheme, threads, sparsity):
    per implementation its speedup (or a peer's status) and efficiency, ours' median time and its
    multiple of one forward, and each implementation's break-even sparsity (worst / median layer)."""
    records = list(records)
    grid, ours_time, impls, recs = _grid(records, baseline_layout)
    be = break_even_summary(recs, baseline_layout)
    rows = []
    for key in sorted(grid):
        machine, suite, layer, stage, scheme, threads = key
        for s in sorted(grid[key]):
            row = {"machine": machine, "suite": suite, "layer": layer, "stage": stage, "scheme": scheme,
                   "threads": threads, "sparsity": s}
            for impl in impls:
                val, eff, layout = grid[key][s].get(impl, (None, None, None))
                row[impl] = val
                row[f"{impl} efficiency"] = eff
                row[f"{impl} baseline layout"] = layout
            ms, rel, dens, gf, dgf = ours_time[key].get(s, (None,) * 5)
            row["ours ms"], row["x fwd"], row["density"] = ms, rel, dens
            row["ours GFLOP/s"], row["dense GFLOP/s"] = gf, dgf
            for impl in impls:
                if impl not in REFERENCE_IMPLS:
                    worst, med, _ = be.get((machine, scheme, stage, threads, impl), (None, None, 0))
                    row[f"{impl} break-even"] = None if worst is None else f"{worst} / {med}"
            rows.append(row)
    return rows


def speedup_table(records: Iterable[dict], baseline_layout: str = "best") -> str:
    records = list(records)
    grid, ours_time, impls, recs = _grid(records, baseline_layout)
    if not grid:
        return "no stage records found"
    lines = []
    lw = max([15, *(len(k[2]) for k in grid)])
    header = f"{'layer':<{lw}} {'stage':<19} {'scheme':<24} {'thr':>3} {'sparsity':>8}  " + "  ".join(
        f"{i:>16}" for i in impls
    ) + f"  {'ours ms':>9} {'x fwd':>6} {'density':>7} {'GFLOP/s':>7} {'dense':>6}"
    current_machine = None
    for key in sorted(grid):
        machine, suite, layer, stage, scheme, threads = key
        if machine != current_machine:
            lines += ["", f"machine {machine}: {note(baseline_layout)}", header, "-" * len(header)]
            current_machine = machine
        for s in sorted(grid[key]):
            row = grid[key][s]
            cells = "  ".join(_cell(*row.get(i, (None, None, None))) for i in impls)
            ms, rel, dens, gf, dgf = ours_time[key].get(s, (None,) * 5)
            tail = f"  {ms:>9.3f}" if ms is not None else f"  {'-':>9}"
            tail += f" {rel:>6.2f}" if rel is not None else f" {'':>6}"
            tail += f" {dens:>7.3f}" if dens is not None else f" {'':>7}"
            tail += f" {gf:>7.1f}" if gf is not None else f" {'':>7}"
            tail += f" {dgf:>6.1f}" if dgf is not None else f" {'':>6}"
            lines.append(f"{layer:<{lw}} {stage:<19} {scheme:<24} {threads:>3} {s:>8.2f}  {cells}{tail}")
    lines += ["", break_even_table(recs, baseline_layout)]
    return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def render(records: Iterable[dict], fmt: str = "text", baseline_layout: str = "best") -> str:
    """The same rows and columns as text (the terminal table), Markdown, CSV or JSON."""
    import csv
    import io
    import json

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    records = list(records)
    if fmt == "text":
        return speedup_table(records, baseline_layout)
    rows = table_rows(records, baseline_layout)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    if fmt == "json":
        return json.dumps({"note": note(baseline_layout), "columns": columns, "rows": rows}, indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows({k: _fmt(r.get(k)) for k in columns} for r in rows)
        return buf.getvalue()
    if not rows:
        return "no stage records found"
    esc = lambda v: _fmt(v).replace("|", "\\|")  # noqa: E731
    lines = [f"_{note(baseline_layout)}_", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(esc(r.get(k)) for k in columns) + " |" for r in rows]
    return "\n".join(lines)


def break_even_summary(records: Iterable[dict], baseline_layout: str = "best") -> dict[tuple, tuple]:
    """(machine, scheme, stage, threads, impl) -> (worst-layer label, median-layer label, layers)."""
    per_layer: dict[tuple, dict[float, float]] = defaultdict(dict)
    for r in stage_records(records):
        c, m = r["case"], r["metrics"]
        # implementations only: not the baselines, nor an impl timed only as a yardstick (one forward)
        val, _ = speedup_of(m, baseline_layout)
        if c["impl"] in REFERENCE_IMPLS or m.get("yardstick") or val is None:
            continue
        key = (r["machine"].get("id"), c["scheme"], c["stage"], c["threads"], c["impl"], c["layer"])
        per_layer[key][c["sparsity"]] = val
    summary: dict[tuple, list] = defaultdict(list)
    for key, points in per_layer.items():
        summary[key[:5]].append((break_even(points), break_even_label(points)))
    out = {}
    for key, vals in summary.items():
        known = sorted((v, label) for v, label in vals if v is not None)
        worst = "-" if len(known) < len(vals) else known[-1][1]
        med = known[(len(known) - 1) // 2][1] if known else "-"
        out[key] = (worst, med, len(vals))
    return out


def break_even_table(records: Iterable[dict], baseline_layout: str = "best") -> str:
    against = {"best": "the faster torch-dense layout", "nchw": "torch-dense NCHW",
               "channels_last": "torch-dense channels_last"}[baseline_layout]
    lines = [f"{'machine':<22} {'scheme':<24} {'stage':<19} {'thr':>3} {'impl':<13} break-even sparsity "
             f"vs {against} (worst layer / median layer; '-' = never at the sparsities measured)"]
    for key, (worst, med, n) in sorted(break_even_summary(records, baseline_layout).items()):
        lines.append(f"{key[0]:<22} {key[1]:<24} {key[2]:<19} {key[3]:>3} {key[4]:<13} {worst} / {med}"
                     f"  ({n} layers)")
    return "\n".join(lines)
