"""Merging's own claim comparison: accuracy of merged minus plainly pruned networks at the same
size, no fine-tuning, from the experiment's "accuracy" records (points): per data set and
network the mean over seeds of (merged - pruned) of the same trained network, then the median
over data sets and networks."""

from __future__ import annotations

from statistics import median

from ...claims.data import Verdict
from ...claims.evaluate import _finish, _judge, _not_measured


def merge_vs_prune(claim, records) -> Verdict:
    m = claim.measure
    acc: dict[tuple, float] = {}  # the newest record per (data set, scheme, sparsity, seed)
    for r in sorted((r for r in records if r.get("kind") == "accuracy"), key=lambda r: str(r.get("created", ""))):
        c = r.get("case") or {}
        if c.get("method") == claim.method:
            acc[(c.get("dataset"), c.get("scheme"), round(float(c.get("sparsity", 0)), 9), c.get("seed", 0))] = \
                r["metrics"]["accuracy"]
    target = round(float(m.sparsity if m.sparsity is not None else 0.5), 9)
    deltas: dict[str, list[float]] = {}
    for (ds, scheme, s, seed), a in acc.items():
        if s != target or not scheme.endswith("/merge"):
            continue
        plain = acc.get((ds, scheme[: -len("merge")] + "prune", s, seed))
        if plain is not None:
            deltas.setdefault(f"{ds}/{scheme.rsplit('/', 1)[0]}", []).append(100.0 * (a - plain))
    per = {k: sum(v) / len(v) for k, v in sorted(deltas.items())}
    seeds = sorted({len(v) for v in deltas.values()})
    if not per:
        return _not_measured(claim, f"no merging accuracy records at s={target:g} "
                                    "(python -m sparsebench.methods.merging.experiment --out ...)")
    measured = median(per.values())
    verdict, why = _judge(claim, measured, list(per.values()))
    basis = (f"median over {', '.join(per)} of merged - pruned accuracy (points; mean over "
             f"{'/'.join(map(str, seeds))} seeds each), {target:.0%} of units removed, no fine-tuning")
    return _finish(claim, measured, per, basis, verdict, why, [])
