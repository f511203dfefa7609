"""SWAT's claim measures (Method.claim_measures): read the swat suite's stage records.

  swat_flops         training-FLOP reduction counted per layer: 1 - effective / dense FLOPs of
                     forward + backward_data + weight_grad (TopK(W) in forward and backward-data,
                     TopK(x) in the weight gradient), median over layers
  swat_act_memory    1 - compressed stored activation bytes / dense activation bytes
  swat_weight_memory 1 - bytes of the weight the backward pass reads (CSR + its transposed
                     structure) / dense weight bytes
  swat_step_speedup  the whole layer step (forward + backward) vs torch-dense, selection every
                     step (swat-refresh) and thresholds reused (swat), median over layers
"""

from __future__ import annotations

from statistics import median

SUITE = "swat"

# the (scheme, stage) cases each comparison reads; `sparsebench validate` runs them (claim_cases)
CLAIM_STAGES = {
    "swat_flops": [("swat", st) for st in ("forward", "backward_data", "weight_grad")],
    "swat_act_memory": [("swat", "weight_grad")],
    "swat_weight_memory": [("swat", "weight_grad")],
    "swat_step_speedup": [("swat", "step"), ("swat-refresh", "step")],
}


def claim_cases(claim, profile_name: str, accepts) -> list:
    """The swat-suite cases behind one claim at its sparsity: the profile's layers (quick: the
    first two, so validate stays minutes), its lowest thread count."""
    from ...cases import BenchCase
    from ...catalogue import profile

    pairs = CLAIM_STAGES.get(claim.measure.comparison)
    if not pairs:
        return []
    prof = profile(profile_name)
    layers = prof.layers[:2] if profile_name in ("quick", "smoke") else prof.layers
    t = min(prof.threads)
    cases = (BenchCase(SUITE, layer, scheme, stage, _sparsity(claim), t) for layer in layers for scheme, stage in pairs)
    return [c for c in cases if accepts(c)]


def _recs(records, scheme, stage, sparsity):
    out = {}
    for r in records:
        c = r.get("case", {})
        if (r.get("kind") == "stage" and c.get("suite") == SUITE and c.get("scheme") == scheme
                and c.get("stage") == stage and abs(c.get("sparsity", -1) - sparsity) < 1e-9
                and c.get("impl") == "sparsebench"):
            out[(c["layer"], c["threads"])] = r["metrics"]  # the latest record of each wins
    return out


def _verdict(claim, measured, basis, per, note=""):
    from ...claims import Verdict
    from ...claims.evaluate import _finish, _judge

    if measured is None:
        return Verdict(claim.id, claim.claimed_text, "-", basis, "not measured", note or "no swat records")
    verdict, why = _judge(claim, measured, list(per.values()))
    return _finish(claim, measured, per, basis, verdict, "; ".join(x for x in (why, note) if x), [])


def _sparsity(claim):
    return claim.measure.sparsity if claim.measure.sparsity is not None else 0.9


def swat_flops(claim, records):
    s = _sparsity(claim)
    per = {}
    for stage in ("forward", "backward_data", "weight_grad"):
        for key, m in _recs(records, "swat", stage, s).items():
            d, e = per.setdefault(key[0], [0, 0])
            per[key[0]] = [d + m["dense_flops"], e + m["effective_flops"]]
    vals = {k: 1.0 - e / d for k, (d, e) in per.items() if d}
    return _verdict(claim, median(vals.values()) if vals else None,
                    f"median over {len(vals)} layers, s = {s:g} (weights and activations), counted FLOPs", vals)


def _memory(claim, records, field):
    s = _sparsity(claim)
    vals = {k[0]: m[field] for k, m in _recs(records, "swat", "weight_grad", s).items() if field in m}
    return _verdict(claim, median(vals.values()) if vals else None,
                    f"median over {len(vals)} layers, s = {s:g}, analytic bytes", vals)


def swat_act_memory(claim, records):
    return _memory(claim, records, "act_memory_reduction")


def swat_weight_memory(claim, records):
    v = _memory(claim, records, "weight_memory_reduction")
    s = _sparsity(claim)
    csr = [1.0 - m["weight_csr_bytes"] / m["weight_dense_bytes"] for m in _recs(records, "swat", "weight_grad", s).values()
           if m.get("weight_dense_bytes")]
    if csr and v.verdict != "not measured":
        v.note = "; ".join(x for x in (v.note, f"the CSR alone (what the forward reads): -{median(csr):.0%}; the "
                                               "transposed structure backward-data reads costs the rest") if x)
    return v


def swat_step_speedup(claim, records):
    s = _sparsity(claim)
    out = {}
    for scheme in ("swat-refresh", "swat"):
        vals = {f"{k[0]}/t{k[1]}": m["speedup_vs_torch_dense"] for k, m in _recs(records, scheme, "step", s).items()
                if m.get("speedup_vs_torch_dense")}
        if vals:
            out[scheme] = (median(vals.values()), vals)
    if not out:
        return _verdict(claim, None, "", {})
    measured, per = out.get("swat-refresh", out.get("swat"))
    note = "CPU layer step speedup vs torch-dense: " + ", ".join(
        f"{sc} {v[0]:.2f}x" for sc, v in out.items()) + " (swat-refresh: selection every step; swat: thresholds reused)"
    return _verdict(claim, measured, f"median over {len(per)} layers x threads, s = {s:g}", per, note)


MEASURES = {"swat_flops": swat_flops, "swat_act_memory": swat_act_memory, "swat_weight_memory": swat_weight_memory,
            "swat_step_speedup": swat_step_speedup}
