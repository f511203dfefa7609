"""Verdicts of paper claims against measured result records: `evaluate(claim, records)` turns
stage (and accuracy) records into the measured counterpart and a verdict. It needs no torch, so
reports can run anywhere."""

from __future__ import annotations

from collections import defaultdict
from statistics import median
from typing import Iterable

from .data import COMPARISONS, FAR_BELOW, Claim, Verdict, _fmt, method_comparisons

def _latest_stage(records: Iterable[dict]) -> list[dict]:
    """The newest stage record per (machine, case id, impl): re-runs supersede old figures."""
    best: dict[tuple, dict] = {}
    for r in records:
        if r.get("kind") != "stage":
            continue
        key = (r["machine"].get("id"), r["case"].get("id"), r["case"].get("impl"))
        if key not in best or str(r.get("created", "")) >= str(best[key].get("created", "")):
            best[key] = r
    return list(best.values())


def _same(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) < 1e-9


def _pick_machine(claim: Claim, recs: list[dict]) -> tuple[str | None, list[dict], str]:
    """One machine's records: one whose arch matches the claim's hardware if any, else the one
    with the most matching records. Returns (machine id, its records, note)."""
    by_machine: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        by_machine[r["machine"].get("id")].append(r)
    if not by_machine:
        return None, [], ""
    want = claim.measure.arch
    matching = [m for m, rs in by_machine.items() if want and rs[0]["machine"].get("arch") == want]
    chosen = max(matching or by_machine, key=lambda m: len(by_machine[m]))
    note = f"also measured on {len(by_machine) - 1} other machine(s)" if len(by_machine) > 1 else ""
    return chosen, by_machine[chosen], note


def _baseline_s(rec: dict, base: dict | None) -> float | None:
    """Baseline median seconds: the one the record's speedup was taken against (the faster
    torch-dense layout, stored as baseline_median_s), else the baseline's own record, else
    derived from the stored speedup (same run)."""
    if rec["metrics"].get("baseline_median_s"):
        return rec["metrics"]["baseline_median_s"]
    if base is not None and base["metrics"].get("median_s"):
        return base["metrics"]["median_s"]
    s = rec["metrics"].get("speedup_vs_torch_dense")
    t = rec["metrics"].get("median_s")
    return t * s if s and t else None


class _Grid:
    """Stage records of one machine indexed by (suite, layer, scheme, stage, sparsity, threads, impl)."""

    def __init__(self, recs: list[dict]) -> None:
        self.index = {}
        for r in recs:
            c = r["case"]
            self.index[(c["suite"], c["layer"], c["scheme"], c["stage"], round(float(c["sparsity"]), 9),
                        c["threads"], c["impl"])] = r

    def get(self, suite, layer, scheme, stage, sparsity, threads, impl):
        return self.index.get((suite, layer, scheme, stage, round(float(sparsity), 9), threads, impl))

    def dense_forward_s(self, layer: str, threads: int) -> float | None:
        """torch-dense forward of a layer from any suite's forward record (dense time ignores the
        mask and the method)."""
        times = [r["metrics"]["median_s"] for k, r in self.index.items()
                 if k[1] == layer and k[3] == "forward" and k[5] == threads
                 and k[6] == "torch-dense" and r["metrics"].get("median_s")]
        return median(times) if times else None


def _per_layer(claim: Claim, grid: _Grid, layers: list[str], threads: int) -> tuple[dict, list[str]]:
    """{layer (or layer/stage/scheme): value} for the claim's comparison, plus notes on gaps."""
    m = claim.measure
    out: dict[str, float] = {}
    notes: list[str] = []
    for layer in layers:
        if m.comparison == "scheme_vs":
            for scheme in m.schemes:
                for stage in m.stages:
                    mine = grid.get(m.suite, layer, scheme, stage, m.sparsity, threads, m.impl)
                    ref = grid.get(m.suite, layer, m.versus, stage, m.sparsity, threads, m.impl)
                    if mine and ref and mine["metrics"].get("median_s") and ref["metrics"].get("median_s"):
                        out[f"{layer}/{stage}/{scheme}"] = ref["metrics"]["median_s"] / mine["metrics"]["median_s"]
            continue
        num = den = 0.0
        complete = True
        for scheme in m.schemes:
            for stage in m.stages:
                rec = grid.get(m.suite, layer, scheme, stage, m.sparsity, threads, m.impl)
                base = grid.get(m.suite, layer, scheme, stage, m.sparsity, threads, m.baseline)
                if rec is None:
                    complete = False
                    continue
                met = rec["metrics"]
                if m.comparison == "stage_time_sum":
                    b = _baseline_s(rec, base)
                    if b is None or not met.get("median_s"):
                        complete = False
                        continue
                    num, den = num + b, den + met["median_s"]
                elif m.comparison == "flop_reduction":
                    if not met.get("dense_flops"):
                        complete = False
                        continue
                    num, den = num + met["dense_flops"], den + (met.get("effective_flops") or 0)
                elif m.comparison == "memory_reduction":
                    tb = (base or {}).get("metrics", {}).get("tensor_bytes")
                    if not tb or met.get("tensor_bytes") is None:
                        complete = False
                        continue
                    num, den = num + tb, den + met["tensor_bytes"]
        # effective FLOPs may be 0 (s = 1); every other sum must be positive
        if not complete or num <= 0 or (den <= 0 and m.comparison != "flop_reduction"):
            continue
        if m.comparison == "stage_time_sum":
            if m.plus_dense_forward:
                fwd = grid.dense_forward_s(layer, threads)
                if fwd is None:
                    notes.append(f"{layer}: no torch-dense forward record, step = backward only")
                else:
                    num, den = num + fwd, den + fwd
            out[layer] = num / den
        else:  # fraction removed
            out[layer] = 1.0 - den / num
    return out, notes


def _judge(claim: Claim, measured: float, parts: list[float]) -> tuple[str, str]:
    """The verdict by the numbers alone, and why. Fractions are compared at 0.01% (a count
    rounded to whole elements must not turn "80%" into 79.99996% and fail it)."""
    tol = claim.tolerance
    if claim.unit == "fraction":
        measured, parts = round(measured, 4), [round(p, 4) for p in parts]
    if claim.unit == "points":
        def ok(x):
            return x >= claim.value - tol
    elif claim.expect == "within":
        lo, hi = claim.range

        def ok(x):
            return lo * (1 - tol) <= x <= hi * (1 + tol)
    else:
        def ok(x):
            return x >= claim.value * (1 - tol)
    check_parts = claim.measure.aggregate != "max" and len(parts) > 1
    n_ok = sum(ok(p) for p in parts)
    if ok(measured) and (not check_parts or n_ok == len(parts)):
        return "reproduced", ""
    if claim.expect == "within":
        if ok(measured):
            return "partly", f"inside the paper's range overall; outside it on {len(parts) - n_ok} of {len(parts)}"
        side = "above" if measured > claim.range[1] else "below"
        if n_ok:
            return "partly", f"{side} the paper's range overall; inside it on {n_ok} of {len(parts)}"
        return "not reproduced", f"{side} the paper's range"
    if ok(measured) or n_ok:
        return "partly", f"meets the claim on {n_ok} of {len(parts)}"
    if claim.unit == "points":
        return "not reproduced", "accuracy drop larger than claimed"
    floor = 1.0 if claim.unit == "x" else 0.0  # no gain at all
    if measured <= floor:
        return "not reproduced", "no gain over the baseline"
    if (measured - floor) < FAR_BELOW * (claim.value - floor):
        return "not reproduced", f"gain under {FAR_BELOW:.0%} of the claimed gain"
    return "partly", "gain below the claim"


def _not_measured(claim: Claim, why: str) -> Verdict:
    note = "; ".join(x for x in (why, claim.todo) if x)
    return Verdict(claim.id, claim.claimed_text, "-", "", "not measured", note, wording=claim.wording)


def _unavailable_reasons(claim: Claim, records: list[dict]) -> list[str]:
    m = claim.measure
    reasons = set()
    for r in records:
        c = r.get("case") or {}
        if r.get("kind") in ("unavailable", "error") and c.get("suite") == m.suite and c.get("scheme") in (
                *m.schemes, m.versus) and c.get("stage") in m.stages:
            reasons.add((r.get("metrics") or {}).get("reason") or (r.get("metrics") or {}).get("error") or "?")
    return sorted(reasons)


def _evaluate_accuracy(claim: Claim, records: list[dict]) -> Verdict:
    """Accuracy at the claim's sparsity minus the baseline, per run (data set / scheme, restricted
    to measure.schemes when given), paired by seed and averaged over the seeds both ran. The
    baseline is the method's own sparsity-0 run of the scheme where there is one, else the dense
    model of the same data set and epoch budget."""
    from ..reports.data import accuracy_runs

    runs = accuracy_runs(records)
    target = round(claim.measure.sparsity or 0.0, 9)
    deltas, seeds_used, against = {}, {}, set()
    for (ds, method, scheme, s, epochs), seeds in runs.items():
        if method != claim.method or s != target or (claim.measure.schemes and scheme not in claim.measure.schemes):
            continue
        base = runs.get((ds, method, scheme, 0.0, epochs)) if target != 0.0 else None
        kind = "s=0"
        if not base:
            base, kind = runs.get((ds, "dense", "dense", 0.0, epochs)), "dense"
        paired = sorted(set(seeds) & set(base or ()))
        if not paired:
            continue
        run = f"{ds}/{scheme}"
        deltas[run] = sum(100 * (seeds[k]["metrics"]["accuracy"] - base[k]["metrics"]["accuracy"]) for k in paired) / len(paired)
        seeds_used[run] = len(paired)
        against.add(kind)
    if not deltas:
        return _not_measured(claim, "no accuracy records for this method at this sparsity with a baseline at the "
                                    "same seeds (its sparsity-0 run or the dense model)")
    measured = median(deltas.values())
    verdict, why = _judge(claim, measured, list(deltas.values()))
    spread = "; ".join(f"{run}: {d:+.2f} pts over {seeds_used[run]} seed(s)" for run, d in sorted(deltas.items()))
    return _finish(claim, measured, deltas, f"dataset/scheme {', '.join(sorted(deltas))}, s={target:g}, vs "
                   f"{' / '.join(sorted(against))}, paired by seed", verdict, why, [spread])


def _finish(claim, measured, per, basis, verdict, why, extra, differs=()) -> Verdict:
    """The verdict record; a material setup difference overrides the numbers' verdict, which
    stays readable in the note."""
    differs = [*differs, *([claim.measure.differs] if claim.measure.differs else [])]
    if claim.stand_in_for:
        differs.insert(0, f"stand-in for {claim.stand_in_for}, whose method is not implemented")
    notes = []
    if differs:
        notes.append(f"setup differs: {'; '.join(differs)} (by the numbers: {verdict})")
        verdict = "different setup"
    notes += [why, *extra, claim.measure.caveat]
    return Verdict(claim.id, claim.claimed_text, _fmt(measured, claim.unit), basis, verdict,
                   "; ".join(n for n in notes if n), measured, dict(per), wording=claim.wording)


def evaluate(claim: Claim, records: Iterable[dict]) -> Verdict:
    """Claimed vs measured for one claim from result records (any machines, any runs)."""
    records = list(records)
    m = claim.measure
    if not claim.implemented:
        return _not_measured(claim, "not measured yet: method not implemented")
    if claim.value is None:
        return _not_measured(claim, "the claim has no number yet")
    if m.comparison == "accuracy_delta":
        return _evaluate_accuracy(claim, records)
    if m.comparison not in COMPARISONS:  # a method's own measure function
        return method_comparisons()[m.comparison](claim, records)
    if m.comparison == "network_step":
        return _evaluate_network(claim, records)
    if m.comparison == "communication_reduction":
        return _not_measured(claim, "communication is not measured by the harness yet")
    schemes = set(m.schemes) | ({m.versus} if m.versus else set())
    relevant = [r for r in _latest_stage(records)
                if r["case"].get("suite") == m.suite and r["case"].get("scheme") in schemes
                and r["case"].get("stage") in m.stages and _same(r["case"].get("sparsity", -1), m.sparsity)]
    machine, recs, machine_note = _pick_machine(claim, relevant)
    if not recs:
        why = f"no {m.suite} records for {'/'.join(sorted(schemes))} {'/'.join(m.stages)} at s={m.sparsity:g}"
        reasons = _unavailable_reasons(claim, records)
        return _not_measured(claim, why + (f" (unavailable: {'; '.join(reasons)})" if reasons else ""))
    threads_seen = sorted({r["case"]["threads"] for r in recs})
    threads = m.threads if m.threads in threads_seen else threads_seen[0]
    recs = [r for r in recs if r["case"]["threads"] == threads]
    present = sorted({r["case"]["layer"] for r in recs})
    wanted = [x for x in present if x in m.layers] if m.layers else present
    extra: list[str] = []
    differs = []
    # every fallback is written in the note (thread count, layer subset, best-of)
    if m.threads is not None and m.threads != threads:
        extra.append(f"fallback: the claim's measure asks {m.threads} thread(s), measured at {threads}")
    if m.aggregate == "max":
        extra.append("best-of: the best layer is the measured value (the claim says 'up to')")
    if m.layers and not wanted:  # claim's shapes not measured: fall back, but say so
        wanted = present
        differs.append(f"claim is on {', '.join(m.layers)}; measured only on {', '.join(present)}")
    elif m.layers and len(wanted) < len(m.layers):
        extra.append(f"fallback: {len(wanted)} of the claim's {len(m.layers)} layers measured "
                     f"({', '.join(wanted)}; missing {', '.join(x for x in m.layers if x not in wanted)})")
    per, gap_notes = _per_layer(claim, _Grid(recs + _dense_forward_records(records, machine, threads)),
                                wanted, threads)
    extra += gap_notes
    if not per:
        return _not_measured(claim, f"records on {machine} lack the {m.impl} / {m.baseline} pairs this comparison needs")
    if m.comparison == "scheme_vs":  # the claim holds only if every scheme beats `versus`
        by_scheme = defaultdict(list)
        for k, v in per.items():
            by_scheme[k.rsplit("/", 1)[1]].append(v)
        medians = {s: median(v) for s, v in by_scheme.items()}
        measured = min(medians.values())
        extra.append("median per scheme: " + ", ".join(f"{s} {v:.2f}x" for s, v in sorted(medians.items())))
    else:
        measured = max(per.values()) if m.aggregate == "max" else median(per.values())
    verdict, why = _judge(claim, measured, list(per.values()))
    arch = recs[0]["machine"].get("arch")
    if m.arch and arch != m.arch:
        differs.append(f"claim is on {m.arch}, measured on {arch}")
    if m.device != "cpu":
        differs.append(f"claim is on {m.device.upper()}, measured on this CPU")
    isa = recs[0]["machine"].get("isa")
    basis = (f"{m.aggregate} over {len(per)} {'layer x stage x scheme' if m.comparison == 'scheme_vs' else 'layers'}"
             f" ({', '.join(wanted)}), s={m.sparsity:g}, {threads} thread(s), {machine} [{isa}]")
    if machine_note:
        extra.append(machine_note)
    return _finish(claim, measured, per, basis, verdict, why, extra, differs)


def _dense_forward_records(records: list[dict], machine: str | None, threads: int) -> list[dict]:
    """torch-dense forward records of one machine, for claims that add the dense forward."""
    return [r for r in _latest_stage(records)
            if r["machine"].get("id") == machine
            and r["case"].get("stage") == "forward" and r["case"].get("impl") == "torch-dense"
            and r["case"].get("threads") == threads]


def evaluate_all(claims: Iterable[Claim], records: Iterable[dict]) -> list[Verdict]:
    records = list(records)
    return [evaluate(c, records) for c in claims]


def _latest_train(records: Iterable[dict]) -> list[dict]:
    """The newest "train" record per (machine, run id)."""
    best: dict[tuple, dict] = {}
    for r in records:
        if r.get("kind") != "train":
            continue
        key = (r["machine"].get("id"), r["case"].get("id"))
        if key not in best or str(r.get("created", "")) >= str(best[key].get("created", "")):
            best[key] = r
    return list(best.values())


def _evaluate_network(claim: Claim, records: list[dict]) -> Verdict:
    """Whole-network step speedup (dense step median / method step median, timed interleaved in one
    process by `sparsebench train`) on the claim's networks; the layer-level stage_time_sum of the
    same claim, when its layers were measured, is added to the note as the explanation."""
    from dataclasses import replace

    m = claim.measure
    recs = [r for r in _latest_train(records)
            if r["case"].get("method") == claim.method and r["case"].get("world_size", 1) == 1
            and (not m.schemes or r["case"].get("scheme") in m.schemes)
            and (m.sparsity is None or _same(r["case"].get("sparsity", -1), m.sparsity))
            and r["metrics"].get("speedup")]
    machine, recs, machine_note = _pick_machine(claim, recs)
    if not recs:
        return _not_measured(claim, f"no whole-network train records of {claim.method} at "
                                    f"s={m.sparsity if m.sparsity is not None else '?'} (sparsebench train)")
    threads_seen = sorted({r["case"]["threads"] for r in recs})
    threads = m.threads if m.threads in threads_seen else threads_seen[0]
    recs = [r for r in recs if r["case"]["threads"] == threads]
    present = sorted({r["case"]["model"] for r in recs})
    wanted = [x for x in present if x in m.networks] if m.networks else present
    extra: list[str] = []
    differs = []
    if m.networks and not wanted:
        wanted = present
        differs.append(f"claim is on {', '.join(m.networks)}; measured only on {', '.join(present)}")
    elif m.networks and len(wanted) < len(m.networks):
        extra.append(f"{len(wanted)} of the claim's {len(m.networks)} networks measured")
    per = {}
    for r in sorted(recs, key=lambda r: str(r.get("created", ""))):
        if r["case"]["model"] in wanted:
            per[r["case"]["model"]] = float(r["metrics"]["speedup"])
    measured = max(per.values()) if m.aggregate == "max" else median(per.values())
    verdict, why = _judge(claim, measured, list(per.values()))
    arch = recs[0]["machine"].get("arch")
    if m.arch and arch != m.arch:
        differs.append(f"claim is on {m.arch}, measured on {arch}")
    if m.layers and m.suite:  # the layer figures, as the explanation
        layer_claim = replace(claim, measure=replace(m, comparison="stage_time_sum"))
        lv = evaluate(layer_claim, records)
        if lv.value is not None:
            extra.append(f"layer level ({lv.basis}): {lv.measured}")
    isa = recs[0]["machine"].get("isa")
    basis = (f"{m.aggregate} over {len(per)} networks ({', '.join(f'{k} {v:.2f}x' for k, v in per.items())}), "
             f"whole training step, s={m.sparsity:g}, {threads} thread(s), {machine} [{isa}]")
    if machine_note:
        extra.append(machine_note)
    return _finish(claim, measured, per, basis, verdict, why, extra, differs)
