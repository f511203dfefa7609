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
