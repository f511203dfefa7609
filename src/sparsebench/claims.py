"""Paper claims (suites/claims.toml) and their verdicts against measured result records.

A claim is data: the paper's number and setup, and how sparsebench measures the counterpart
(design/measurement.md, "Claims"). `evaluate(claim, records)` turns stage records into the
measured counterpart and a verdict; it needs no torch, so reports can run anywhere.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Iterable

__all__ = [
    "METRICS", "COMPARISONS", "VERDICTS", "Claim", "Measure", "Verdict",
    "find_claims_file", "load_claims", "parse_claims", "evaluate", "evaluate_all",
]

METRICS = ("stage_speedup", "end_to_end_speedup", "flop_reduction", "memory_reduction",
           "communication_reduction", "accuracy_delta")
COMPARISONS = ("stage_time_sum", "flop_reduction", "memory_reduction", "scheme_vs", "accuracy_delta",
               "communication_reduction")
VERDICTS = ("reproduced", "partly", "not reproduced", "different setup", "not measured")
# Units follow the metric: factors for speedups/communication, fraction removed for FLOPs/memory.
_UNITS = {"stage_speedup": "x", "end_to_end_speedup": "x", "communication_reduction": "x",
          "flop_reduction": "fraction", "memory_reduction": "fraction", "accuracy_delta": "points"}
# Below this share of the claimed gain a result is "far below" (not reproduced), not "partly".
FAR_BELOW = 0.25
CLAIMS_FILE = Path("suites") / "claims.toml"

_CLAIM_KEYS = {"id", "paper", "method", "metric", "value", "range", "expect", "tolerance",
               "implemented", "todo", "setup", "measure"}
_SETUP_KEYS = {"network", "dataset", "sparsity", "hardware", "baseline", "wording", "wording_source"}
_MEASURE_KEYS = {"suite", "schemes", "stages", "layers", "sparsity", "threads", "comparison", "impl",
                 "baseline", "aggregate", "plus_dense_forward", "arch", "device", "differs", "caveat", "versus"}


@dataclass(frozen=True)
class Measure:
    comparison: str
    suite: str | None = None
    schemes: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    sparsity: float | None = None
    threads: int | None = None
    impl: str = "sparsebench"
    baseline: str = "torch-dense"
    aggregate: str = "median"
    plus_dense_forward: bool = False
    arch: str | None = None
    device: str = "cpu"
    differs: str = ""
    caveat: str = ""
    versus: str | None = None


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    method: str
    metric: str
    value: float | None
    range: tuple[float, float] | None
    expect: str
    tolerance: float
    implemented: bool
    todo: str
    setup: dict
    measure: Measure

    @property
    def unit(self) -> str:
        return _UNITS[self.metric]

    @property
    def claimed_text(self) -> str:
        if self.value is None:
            return "(number not entered yet)"
        if self.measure.comparison == "scheme_vs":
            return f"{'/'.join(self.measure.schemes)} faster than {self.measure.versus} (>= {self.value:.2f}x)"
        if self.range is not None:
            lo, hi = self.range
            return f"{_fmt(lo, self.unit)}-{_fmt(hi, self.unit)}"
        return _fmt(self.value, self.unit)


@dataclass
class Verdict:
    claim_id: str
    claimed: str
    measured: str  # value text, "-" when not measured
    basis: str  # layers, sparsity, threads, machine the measured value comes from
    verdict: str
    note: str = ""
    value: float | None = None
    per_layer: dict = field(default_factory=dict)


# --- loading and validation ----------------------------------------------------------------------


def _toml_module():
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli  # the same parser, backported

        return tomli
    except ImportError:
        raise RuntimeError("reading claims.toml needs Python >= 3.11 (tomllib) or the 'tomli' package "
                           "on Python 3.9/3.10: pip install tomli") from None


def find_claims_file(path=None) -> Path:
    """An explicit path, else suites/claims.toml under the CWD, else in the repo holding this package,
    else the copy installed inside the package (CMakeLists.txt installs it beside _kernels)."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"claims file {p} not found")
        return p
    here = Path(__file__).resolve().parent
    candidates = [Path.cwd() / CLAIMS_FILE, here.parents[1] / CLAIMS_FILE, here / CLAIMS_FILE.name]
    for p in candidates:
        if p.is_file():
            return p
    raise FileNotFoundError("no claims file: looked for " + ", ".join(map(str, candidates)))


def load_claims(path=None) -> list[Claim]:
    p = find_claims_file(path)
    toml = _toml_module()
    try:
        data = toml.loads(p.read_text(encoding="utf-8"))
    except toml.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML: {exc}") from exc
    return parse_claims(data, source=str(p))


def _bad(cid: str, fld: str, why: str) -> ValueError:
    return ValueError(f"claim {cid!r}: field {fld!r} {why}")


def _number(cid, fld, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _bad(cid, fld, f"must be a finite number, got {v!r}")
    return float(v)


def _strings(cid, fld, v) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise _bad(cid, fld, f"must be a list of non-empty strings, got {v!r}")
    return tuple(v)


def _parse_measure(cid: str, m) -> Measure:
    if not isinstance(m, dict):
        raise _bad(cid, "measure", "must be a table")
    unknown = set(m) - _MEASURE_KEYS
    if unknown:
        raise _bad(cid, f"measure.{sorted(unknown)[0]}", f"is unknown; known: {sorted(_MEASURE_KEYS)}")
    comp = m.get("comparison")
    if comp not in COMPARISONS:
        raise _bad(cid, "measure.comparison", f"must be one of {COMPARISONS}, got {comp!r}")
    kw: dict = {"comparison": comp}
    for key in ("suite", "impl", "baseline", "arch", "device", "differs", "caveat", "versus"):
        if key in m:
            if not isinstance(m[key], str):
                raise _bad(cid, f"measure.{key}", f"must be a string, got {m[key]!r}")
            kw[key] = m[key]
    for key in ("schemes", "stages", "layers"):
        if key in m:
            kw[key] = _strings(cid, f"measure.{key}", m[key])
    if "sparsity" in m:
        s = _number(cid, "measure.sparsity", m["sparsity"])
        if not 0.0 <= s < 1.0:
            raise _bad(cid, "measure.sparsity", f"must be in [0, 1), got {s}")
        kw["sparsity"] = s
    if "threads" in m:
        if isinstance(m["threads"], bool) or not isinstance(m["threads"], int) or m["threads"] < 1:
            raise _bad(cid, "measure.threads", f"must be a positive integer, got {m['threads']!r}")
        kw["threads"] = m["threads"]
    if m.get("aggregate", "median") not in ("median", "max"):
        raise _bad(cid, "measure.aggregate", f"must be 'median' or 'max', got {m['aggregate']!r}")
    kw["aggregate"] = m.get("aggregate", "median")
    if not isinstance(m.get("plus_dense_forward", False), bool):
        raise _bad(cid, "measure.plus_dense_forward", "must be true or false")
    kw["plus_dense_forward"] = m.get("plus_dense_forward", False)
    if comp == "scheme_vs" and "versus" not in kw:
        raise _bad(cid, "measure.versus", "is required for comparison 'scheme_vs'")
    return Measure(**kw)


def _parse_claim(c) -> Claim:
    if not isinstance(c, dict):
        raise ValueError(f"every [[claim]] must be a table, got {c!r}")
    cid = c.get("id")
    if not isinstance(cid, str) or not cid:
        raise ValueError(f"a claim has no 'id' (keys: {sorted(c)})")
    unknown = set(c) - _CLAIM_KEYS
    if unknown:
        raise _bad(cid, sorted(unknown)[0], f"is unknown; known: {sorted(_CLAIM_KEYS)}")
    for key in ("paper", "method"):
        if not isinstance(c.get(key), str) or not c[key]:
            raise _bad(cid, key, "is required (a non-empty string)")
    if c.get("metric") not in METRICS:
        raise _bad(cid, "metric", f"must be one of {METRICS}, got {c.get('metric')!r}")
    todo = c.get("todo", "")
    if not isinstance(todo, str):
        raise _bad(cid, "todo", "must be a string")
    value = _number(cid, "value", c["value"]) if "value" in c else None
    if value is None and not todo:
        raise _bad(cid, "value", "is required (or say in 'todo' why the number is missing)")
    rng = None
    if "range" in c:
        r = c["range"]
        if not isinstance(r, list) or len(r) != 2:
            raise _bad(cid, "range", f"must be [low, high], got {r!r}")
        rng = (_number(cid, "range", r[0]), _number(cid, "range", r[1]))
        if rng[0] > rng[1]:
            raise _bad(cid, "range", f"low > high: {r!r}")
    expect = c.get("expect", "at_least")
    if expect not in ("at_least", "within"):
        raise _bad(cid, "expect", f"must be 'at_least' or 'within', got {expect!r}")
    if expect == "within" and rng is None:
        raise _bad(cid, "range", "is required when expect = 'within'")
    tol = _number(cid, "tolerance", c.get("tolerance", 1.0 if c["metric"] == "accuracy_delta" else 0.1))
    if tol < 0:
        raise _bad(cid, "tolerance", "must be >= 0")
    implemented = c.get("implemented")
    if not isinstance(implemented, bool):
        raise _bad(cid, "implemented", "is required (true or false)")
    setup = c.get("setup")
    if not isinstance(setup, dict):
        raise _bad(cid, "setup", "is required (a table with network, dataset, sparsity, hardware, baseline, wording)")
    for key in sorted(_SETUP_KEYS - {"wording_source"}):
        if not isinstance(setup.get(key), str) or not setup[key]:
            raise _bad(cid, f"setup.{key}", "is required (a non-empty string)")
    if set(setup) - _SETUP_KEYS:
        raise _bad(cid, f"setup.{sorted(set(setup) - _SETUP_KEYS)[0]}", "is unknown")
    if "measure" not in c:
        raise _bad(cid, "measure", "is required")
    measure = _parse_measure(cid, c["measure"])
    if implemented and measure.comparison in ("stage_time_sum", "scheme_vs", "flop_reduction", "memory_reduction"):
        for key in ("suite", "schemes", "stages"):
            if not getattr(measure, key):
                raise _bad(cid, f"measure.{key}", "is required for an implemented claim")
        if measure.sparsity is None:
            raise _bad(cid, "measure.sparsity", "is required for an implemented claim")
    return Claim(id=cid, paper=c["paper"], method=c["method"], metric=c["metric"], value=value, range=rng,
                 expect=expect, tolerance=tol, implemented=implemented, todo=todo, setup=dict(setup),
                 measure=measure)


def parse_claims(data: dict, source: str = "claims") -> list[Claim]:
    items = data.get("claim") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{source}: no [[claim]] entries")
    claims = [_parse_claim(c) for c in items]
    seen: set[str] = set()
    for c in claims:
        if c.id in seen:
            raise _bad(c.id, "id", "is used twice")
        seen.add(c.id)
    return claims


# --- measured counterparts ------------------------------------------------------------------------


def _fmt(v: float, unit: str) -> str:
    if unit == "x":
        return f"{v:.2f}x"
    if unit == "fraction":
        return f"{100 * v:.0f}%"
    return f"{v:+.2f} pts"


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
    """Baseline median seconds: its own record, else derived from the stored speedup (same run)."""
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
        """torch-dense forward of a layer from any weight-sparse record (dense time ignores the mask)."""
        times = [r["metrics"]["median_s"] for k, r in self.index.items()
                 if k[0] == "weight_sparse" and k[1] == layer and k[3] == "forward" and k[5] == threads
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
    """The verdict by the numbers alone, and why."""
    tol = claim.tolerance
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
    return Verdict(claim.id, claim.claimed_text, "-", "", "not measured", note)


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
    """accuracy at the claim's sparsity minus dense (sparsity 0) accuracy, same method and dataset."""
    acc: dict[tuple, float] = {}
    for r in records:
        c = r.get("case") or {}
        if r.get("kind") == "accuracy" and c.get("method") == claim.method:
            run = f"{c.get('dataset')}/{c.get('scheme')}"
            acc[(run, round(float(c.get("sparsity", 0)), 9))] = r["metrics"]["accuracy"]
    target = round(claim.measure.sparsity or 0.0, 9)
    deltas = {run: 100 * (a - acc[(run, 0.0)]) for (run, s), a in acc.items() if s == target and (run, 0.0) in acc}
    if not deltas:
        return _not_measured(claim, "no accuracy records for this method at this sparsity")
    measured = median(deltas.values())
    verdict, why = _judge(claim, measured, list(deltas.values()))
    return _finish(claim, measured, deltas, f"dataset/scheme {', '.join(sorted(deltas))}, s={target:g}, vs s=0", verdict, why, [])


def _finish(claim, measured, per, basis, verdict, why, extra, differs=()) -> Verdict:
    """The verdict record; a material setup difference overrides the numbers' verdict, which
    stays readable in the note."""
    differs = [*differs, *([claim.measure.differs] if claim.measure.differs else [])]
    notes = []
    if differs:
        notes.append(f"setup differs: {'; '.join(differs)} (by the numbers: {verdict})")
        verdict = "different setup"
    notes += [why, *extra, claim.measure.caveat]
    return Verdict(claim.id, claim.claimed_text, _fmt(measured, claim.unit), basis, verdict,
                   "; ".join(n for n in notes if n), measured, dict(per))


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
    if m.layers and not wanted:  # claim's shapes not measured: fall back, but say so
        wanted = present
        differs.append(f"claim is on {', '.join(m.layers)}; measured only on {', '.join(present)}")
    elif m.layers and len(wanted) < len(m.layers):
        extra.append(f"{len(wanted)} of the claim's {len(m.layers)} layers measured")
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
            if r["machine"].get("id") == machine and r["case"].get("suite") == "weight_sparse"
            and r["case"].get("stage") == "forward" and r["case"].get("impl") == "torch-dense"
            and r["case"].get("threads") == threads]


def evaluate_all(claims: Iterable[Claim], records: Iterable[dict]) -> list[Verdict]:
    records = list(records)
    return [evaluate(c, records) for c in claims]
