"""SSL's own claim comparison: one implementation against another in the same (interleaved)
case, for "about twice the speedup of non-structured sparsity"."""

from __future__ import annotations

from statistics import median

from ...claims.data import Verdict
from ...claims.evaluate import _finish, _judge, _latest_stage, _not_measured, _pick_machine


def impl_vs(claim, records) -> Verdict:
    """Per layer: median time of ``measure.versus`` (an impl name) / median time of
    ``measure.impl``, both from the same case (suite, scheme, stage, sparsity, threads)."""
    m = claim.measure
    recs = [r for r in _latest_stage(records) if r["case"].get("suite") == m.suite
            and r["case"].get("scheme") in m.schemes and r["case"].get("stage") in m.stages
            and abs(float(r["case"].get("sparsity", -1)) - float(m.sparsity)) < 1e-9]
    machine, recs, note = _pick_machine(claim, recs)
    if not recs:
        return _not_measured(claim, f"no {m.suite} records for {'/'.join(m.schemes)} at s={m.sparsity:g}")
    threads = min(r["case"]["threads"] for r in recs)
    by = {}
    for r in recs:
        c = r["case"]
        if c["threads"] == threads and (not m.layers or c["layer"] in m.layers):
            by.setdefault(c["layer"], {})[c["impl"]] = r["metrics"].get("median_s")
    per = {layer: d[m.versus] / d[m.impl] for layer, d in sorted(by.items())
           if d.get(m.impl) and d.get(m.versus)}
    if not per:
        return _not_measured(claim, f"records lack {m.impl} / {m.versus} pairs")
    measured = median(per.values())
    verdict, why = _judge(claim, measured, list(per.values()))
    extra = [f"{len(per)} of {len(m.layers) or len(per)} layers measured"] + ([note] if note else [])
    basis = (f"median over layers ({', '.join(per)}) of {m.versus} time / {m.impl} time, same case, "
             f"{threads} thread(s), {machine}")
    return _finish(claim, measured, per, basis, verdict, why, extra)


def impl_vs_cases(claim, profile_name: str) -> list:
    """The catalogue cases an impl_vs claim reads: its layers (the quick profile's rule, as
    validate applies it to stage-time claims), schemes, stages, sparsity and the profile's threads."""
    from ... import catalogue
    from ...cases import BenchCase
    from ...claims.validate import _layers
    from . import METHOD

    m = claim.measure
    prof = catalogue.profile(profile_name)
    threads = (m.threads,) if m.threads else prof.threads
    cases = [BenchCase(m.suite, layer, scheme, stage, m.sparsity, t) for layer in _layers(claim, prof, profile_name)
             for scheme in m.schemes for stage in m.stages for t in threads]
    return [c for c in cases if METHOD.accepts(c)]


def run_impl_vs(claim, profile_name: str, out, progress=None, rounds: int = 7) -> list:
    """Measure the claim's cases not yet in ``out`` (records appended there); returns them."""
    from pathlib import Path

    from ...harness import run_cases
    from ...measure import ResultStore

    out = Path(out)
    have = {(r.get("case") or {}).get("id") for r in ResultStore(out).records() if r.get("kind") == "stage"} \
        if out.exists() else set()
    todo = [c for c in impl_vs_cases(claim, profile_name) if c.id not in have]
    if todo:
        run_cases(todo, results_dir=out.parent, out=out, rounds=rounds, progress=progress)  # as validate's own cases
    return todo
