"""L1 filter pruning's own claim comparison: the fraction of inference FLOPs the authors' plans
remove, counted from the model definitions (flops.py; FlopCounterMode cross-check in the note).
Deterministic, so it is computed at evaluation time rather than read from timing records."""

from __future__ import annotations

from ...claims.data import Verdict
from ...claims.evaluate import _finish, _judge, _not_measured


def counted_flops(claim, records) -> Verdict:
    m = claim.measure
    if not m.networks:
        return _not_measured(claim, "the claim's measure names no network")
    try:
        from .flops import reduction
    except ImportError as exc:  # torch missing where reports are built
        return _not_measured(claim, f"FLOP counting needs torch: {exc}")
    per, checks = {}, []
    for net in m.networks:
        for plan in (m.schemes or ("A",)):
            r = reduction(net, plan)
            key = f"{net}/{r['plan']}"
            if key in per:
                continue
            per[key] = r["reduction"]
            checks.append(f"{key}: {r['flops']:.3e} -> {r['pruned_flops']:.3e} FLOPs, FlopCounterMode "
                          f"{r['flop_counter']:.3e} -> {r['flop_counter_pruned']:.3e} "
                          f"({'equal' if r['cross_check_equal'] else 'DIFFERS'})")
    measured = max(per.values()) if m.aggregate == "max" else min(per.values())
    verdict, why = _judge(claim, measured, list(per.values()))
    basis = (f"{m.aggregate if m.aggregate == 'max' else 'min'} over plans ({', '.join(f'{k} {v:.1%}' for k, v in per.items())}), "
             "conv + linear FLOPs counted from the model definitions, 32x32 input")
    return _finish(claim, measured, per, basis, verdict, why, checks)
