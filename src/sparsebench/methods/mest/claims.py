"""MEST's own claim comparisons (Method.claim_measures) and the measurements behind them
(Method.claim_runs):

  mest_peak_memory   "mest_memory" records (memory.py: fresh process per run): measured = 1 -
                     peak(MEST) / peak(dense training) at the claim's sparsity; reproduced only if
                     MEST's peak is below dense and falls as density falls over every measured
                     sparsity (masked-dense's peak, the authors' implementation, is shown beside)
  mest_vs_static     "accuracy" records: MEST (any variant of the claim's scheme) minus the static
                     mask on the same sparse init ("<format>+static"), same dataset, sparsity and
                     seeds, in accuracy points (median over datasets x variants)
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from .memory import MODELS, sweep

MEMORY_KIND = "mest_memory"


def run_memory(out: Path, *, model: str = "mlp", schemes=("unstructured",), sparsities=(0.5, 0.8, 0.9, 0.95),
               threads: int = 1) -> Path:
    """The peak-memory table as records appended to ``out`` (each row from its own fresh process)."""
    from ... import kernels
    from ...harness.run import compact_machine
    from ...measure import ResultStore, machine_record, make_record

    machine = compact_machine(machine_record(), kernels.resolve_isa(None))
    store = ResultStore(out)
    for row in sweep(model, sparsities, schemes, threads):
        case = {k: row[k] for k in ("model", "impl", "scheme", "sparsity", "threads")}
        case["id"] = f"mest-memory/{row['model']}/{row['impl']}/{row['scheme']}/s{row['sparsity']:g}"
        kind = MEMORY_KIND if "error" not in row else "error"
        store.append(make_record(kind, case, {k: v for k, v in row.items() if k not in case}, machine))
    return Path(out)


def memory_rows(records) -> dict:
    """(model, scheme) -> impl -> sparsity -> peak bytes, latest record wins."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for r in records:
        if r.get("kind") != MEMORY_KIND or r["metrics"].get("peak_bytes") is None:
            continue
        c = r["case"]
        scheme = c["scheme"] if c["impl"] == "mest" else "-"
        out[c["model"]][(c["impl"], scheme)][round(float(c["sparsity"]), 6)] = r["metrics"]["peak_bytes"]
    return out


def memory_table(records) -> str:
    lines = [f"{'model':<5} {'implementation':<26} " + " ".join(f"{'s=' + str(s):>10}" for s in (0.5, 0.8, 0.9, 0.95))
             + "   (peak MiB of build + step + mutation + step, fresh process)"]
    for model, by_impl in memory_rows(records).items():
        dense = by_impl.get(("dense", "-"), {}).get(0.0)
        if dense is not None:
            lines.append(f"{model:<5} {'dense (any s)':<26} " + " ".join(f"{dense / 2**20:>10.1f}" for _ in range(4)))
        for (impl, scheme), vals in sorted(by_impl.items()):
            if impl == "dense":
                continue
            name = impl if impl != "mest" else f"mest ({scheme})"
            cells = [f"{vals[s] / 2**20:>10.1f}" if s in vals else f"{'-':>10}" for s in (0.5, 0.8, 0.9, 0.95)]
            lines.append(f"{model:<5} {name:<26} " + " ".join(cells))
    return "\n".join(lines)


def _verdict(claim, measured, basis, verdict, note, per=None):
    from ...claims.data import Verdict

    differs = claim.measure.differs
    if differs and verdict not in ("not measured",):
        note = f"setup differs: {differs} (by the numbers: {verdict}); {note}"
        verdict = "different setup"
    text = "-" if measured is None else (f"{measured:.2f}" if claim.unit != "points" else f"{measured:+.1f} points")
    if claim.unit == "fraction" and measured is not None:
        text = f"{measured:.0%} less"
    return Verdict(claim.id, claim.claimed_text, text, basis, verdict, note, measured, dict(per or {}),
                   wording=claim.wording)


def peak_memory_measure(claim, records) -> "Verdict":
    rows = memory_rows(list(records))
    s_claim = round(float(claim.measure.sparsity or 0.9), 6)
    per, notes, falls_all = {}, [], True
    for model, by_impl in rows.items():
        dense = by_impl.get(("dense", "-"), {}).get(0.0)
        for (impl, scheme), vals in by_impl.items():
            if impl != "mest" or dense is None or s_claim not in vals:
                continue
            per[f"{model}/{scheme}"] = 1.0 - vals[s_claim] / dense
            ordered = [vals[s] for s in sorted(vals)]
            falls = all(b < a for a, b in zip(ordered, ordered[1:]))
            falls_all &= falls
            notes.append(f"{model}/{scheme}: MEST peak {'falls' if falls else 'does NOT fall'} with density over "
                         f"s={', '.join(f'{s:g}' for s in sorted(vals))}")
            md = by_impl.get(("masked-dense", "-"), {}).get(s_claim)
            if md is not None:
                notes.append(f"{model}: masked-dense {md / 2**20:.0f} MiB vs dense {dense / 2**20:.0f} MiB vs MEST "
                             f"{vals[s_claim] / 2**20:.0f} MiB at s={s_claim:g}")
    if not per:
        return _verdict(claim, None, "", "not measured", "no mest_memory records (python -m "
                        "sparsebench.methods.mest.experiment memory --out FILE)")
    measured = statistics.median(per.values())
    ok = measured > (claim.value or 0.0) and falls_all and all(v > 0 for v in per.values())
    verdict = "reproduced" if ok else ("partly" if measured > 0 else "not reproduced")
    return _verdict(claim, measured, f"models/schemes {', '.join(sorted(per))}, s={s_claim:g}, vs dense training, "
                    "peak RSS of a fresh process", verdict, "; ".join(notes), per)


def vs_static_measure(claim, records) -> "Verdict":
    s_claim = round(float(claim.measure.sparsity or 0.9), 6)
    schemes = set(claim.measure.schemes or ("unstructured",))
    acc: dict = defaultdict(list)
    for r in records:
        c = r.get("case") or {}
        if r.get("kind") != "accuracy" or c.get("method") != claim.method:
            continue
        if round(float(c.get("sparsity", -1)), 6) != s_claim:
            continue
        spec = c["scheme"].split("@")[0]
        fmt, _, variant = spec.partition("+")
        if fmt in schemes and "drop" not in variant:
            acc[(c["dataset"], fmt, variant or "mest", c.get("seed", 0))].append(r["metrics"]["accuracy"])
    deltas = defaultdict(list)
    for (ds, fmt, variant, seed), a in acc.items():
        base = acc.get((ds, fmt, "static", seed))
        if variant != "static" and base:
            deltas[f"{ds}/{fmt}+{variant}"].append(100 * (a[-1] - base[-1]))
    if not deltas:
        return _verdict(claim, None, "", "not measured", "no MEST and '+static' accuracy records at this sparsity")
    per = {k: statistics.mean(v) for k, v in deltas.items()}
    measured = statistics.median(per.values())
    verdict = "reproduced" if measured > (claim.value or 0.0) else "not reproduced"
    spread = "; ".join(f"{k}: {statistics.mean(v):+.1f} (seeds {len(v)}, min {min(v):+.1f}, max {max(v):+.1f})"
                       for k, v in sorted(deltas.items()))
    return _verdict(claim, measured, f"s={s_claim:g}, MEST minus static mask on the same sparse init, per seed",
                    verdict, spread, per)


MEASURES = {"mest_peak_memory": peak_memory_measure, "mest_vs_static": vs_static_measure}
