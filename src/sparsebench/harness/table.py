"""Speedup tables and break-even sparsities from stored result records."""

from __future__ import annotations

from collections import defaultdict
from statistics import median
from typing import Iterable

from ..cases import OURS

BASELINE = "torch-dense"
BASELINES = ("torch-sparse", BASELINE, "torch-reference")  # what the others are compared with, in column order
REFERENCE_IMPLS = (BASELINE, "torch-reference")


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


def _cell(value, eff, width: int = 16) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, str):
        return f"{value[:width]:>{width}}"
    text = f"{value:.2f}" + (f" ({eff:.2f})" if eff is not None else "")
    return f"{text:>{width}}"


def speedup_table(records: Iterable[dict]) -> str:
    records = list(records)
    recs = latest(records)
    status = peer_status(records)
    if not recs and not status:
        return "no stage records found"
    # (machine, suite, layer, stage, scheme, threads) -> sparsity -> impl -> (speedup or status, efficiency)
    grid: dict[tuple, dict[float, dict[str, tuple]]] = defaultdict(lambda: defaultdict(dict))
    # ours: (median ms, its time as a multiple of the case's reference impl, e.g. one forward)
    ours_time: dict[tuple, dict[float, tuple]] = defaultdict(dict)
    for r in recs:
        c, m = r["case"], r["metrics"]
        if (r["machine"].get("id"), c.get("id"), c.get("impl")) in status:
            continue
        key = (r["machine"].get("id"), c["suite"], c["layer"], c["stage"], c["scheme"], c["threads"])
        val = m.get("speedup_vs_torch_dense")
        if val is None and m.get("gbytes_per_s") is not None:
            val = m["gbytes_per_s"]
        eff = m.get("efficiency") if c["impl"] not in REFERENCE_IMPLS else None
        grid[key][c["sparsity"]][c["impl"]] = (val, eff)
        if c["impl"] == OURS:
            ours_time[key][c["sparsity"]] = (m["median_s"] * 1e3, m.get("ratio_to_reference"))
    for (machine, case_id, impl), text in status.items():
        parts = case_id.split("/")  # suite/layer/scheme/stage/s<x>/t<n>
        if len(parts) != 6:
            continue
        suite, layer, scheme, stage, s, t = parts
        key = (machine, suite, layer, stage, scheme, int(t[1:]))
        grid[key][float(s[1:])][impl] = (text, None)
    impls = [i for i in impl_columns([*recs, *(r for r in records if r.get("kind") == "peer-error")])
             if any(i in d for g in grid.values() for d in g.values())]
    lines = []
    header = f"{'layer':<15} {'stage':<19} {'scheme':<13} {'thr':>3} {'sparsity':>8}  " + "  ".join(
        f"{i:>16}" for i in impls
    ) + f"  {'ours ms':>9} {'x fwd':>6}"
    current_machine = None
    for key in sorted(grid):
        machine, suite, layer, stage, scheme, threads = key
        if machine != current_machine:
            lines += ["", f"machine {machine}: speedup over torch-dense (efficiency = speedup / FLOP reduction); "
                      "peers' ratios come from their own child process; front_end rows: GB/s; "
                      "'x fwd': ours' time as a multiple of one forward of the same layer (mask_update)", header,
                      "-" * len(header)]
            current_machine = machine
        for s in sorted(grid[key]):
            row = grid[key][s]
            cells = "  ".join(_cell(*row.get(i, (None, None))) for i in impls)
            ms, rel = ours_time[key].get(s, (None, None))
            tail = f"  {ms:>9.3f}" if ms is not None else f"  {'-':>9}"
            tail += f" {rel:>6.2f}" if rel is not None else f" {'':>6}"
            lines.append(f"{layer:<15} {stage:<19} {scheme:<13} {threads:>3} {s:>8.2f}  {cells}{tail}")
    lines += ["", break_even_table(recs)]
    return "\n".join(lines)


def break_even_table(records: Iterable[dict]) -> str:
    per_layer: dict[tuple, dict[float, float]] = defaultdict(dict)
    for r in stage_records(records):
        c, m = r["case"], r["metrics"]
        # implementations only: not the baselines, nor an impl timed only as a yardstick (one forward)
        if c["impl"] in REFERENCE_IMPLS or m.get("yardstick") or m.get("speedup_vs_torch_dense") is None:
            continue
        key = (r["machine"].get("id"), c["scheme"], c["stage"], c["threads"], c["impl"], c["layer"])
        per_layer[key][c["sparsity"]] = m["speedup_vs_torch_dense"]
    summary: dict[tuple, list] = defaultdict(list)
    for key, points in per_layer.items():
        summary[key[:5]].append((break_even(points), break_even_label(points)))
    lines = [f"{'machine':<22} {'scheme':<13} {'stage':<19} {'thr':>3} {'impl':<13} break-even sparsity "
             "(worst layer / median layer; '-' = never at the sparsities measured)"]
    for key in sorted(summary):
        vals = summary[key]
        known = sorted((v, label) for v, label in vals if v is not None)
        worst = "-" if len(known) < len(vals) else known[-1][1]
        med = known[(len(known) - 1) // 2][1] if known else "-"
        lines.append(f"{key[0]:<22} {key[1]:<13} {key[2]:<19} {key[3]:>3} {key[4]:<13} {worst} / {med}"
                     f"  ({len(vals)} layers)")
    return "\n".join(lines)
