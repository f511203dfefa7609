"""Paper claims as data (claims.toml beside this file): the paper's number and setup, and how
sparsebench measures the counterpart (design/measurement.md, "Claims"); loading and checking."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path


METRICS = ("stage_speedup", "end_to_end_speedup", "flop_reduction", "memory_reduction",
           "communication_reduction", "accuracy_delta")
COMPARISONS = ("stage_time_sum", "flop_reduction", "memory_reduction", "scheme_vs", "accuracy_delta",
               "communication_reduction", "network_step")
VERDICTS = ("reproduced", "partly", "not reproduced", "different setup", "not measured")
# Units follow the metric: factors for speedups/communication, fraction removed for FLOPs/memory.
_UNITS = {"stage_speedup": "x", "end_to_end_speedup": "x", "communication_reduction": "x",
          "flop_reduction": "fraction", "memory_reduction": "fraction", "accuracy_delta": "points"}
# Below this share of the claimed gain a result is "far below" (not reproduced), not "partly".
FAR_BELOW = 0.25
CLAIMS_FILE = Path(__file__).resolve().parent / "claims.toml"

_CLAIM_KEYS = {"id", "paper", "method", "metric", "value", "range", "expect", "tolerance",
               "implemented", "todo", "setup", "measure", "stand_in_for"}
_SETUP_KEYS = {"network", "dataset", "sparsity", "hardware", "baseline", "wording", "wording_source",
               "tolerance_source"}
_MEASURE_KEYS = {"suite", "schemes", "stages", "layers", "sparsity", "threads", "comparison", "impl",
                 "baseline", "aggregate", "plus_dense_forward", "all_layers", "arch", "device", "differs", "caveat", "versus", "networks"}


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
    # the claim is an average over its layers: every profile measures all of them (quick too),
    # so a verdict never rests on the one layer a short profile happens to share
    all_layers: bool = False
    arch: str | None = None
    device: str = "cpu"
    differs: str = ""
    caveat: str = ""
    versus: str | None = None
    # network_step: whole-network training-step speedup ("train" records) on these zoo models;
    # the suite / stages / layers, when given, add the layer-level figure as the explanation
    networks: tuple[str, ...] = ()


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
    # a stand-in row: the id of the claim it stands in for (whose method is not implemented);
    # its verdict is always "different setup", the setup difference written out in measure.differs
    stand_in_for: str = ""

    @property
    def wording(self) -> str:
        """The claim's words, quoted as its source gives them."""
        return self.setup.get("wording", "")

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
    wording: str = ""  # the claim's own words (Claim.wording), quoted beside the number


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


def method_comparisons() -> dict:
    """name -> evaluate(claim, records) -> Verdict of the comparisons methods define beyond the
    generic ones (Method.claim_measures); only looked up for a comparison that is not generic."""
    from ..methods import all_methods  # lazy: the generic path stays torch-free

    out = {}
    for m in all_methods().values():
        out.update(m.claim_measures)
    return out


def find_claims_file(path=None) -> Path:
    """An explicit path, else the claims file that ships inside this package."""
    p = Path(path) if path is not None else CLAIMS_FILE
    if not p.is_file():
        raise FileNotFoundError(f"claims file {p} not found")
    return p


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
    if comp not in COMPARISONS and comp not in method_comparisons():
        raise _bad(cid, "measure.comparison", f"must be one of {COMPARISONS} or a method's own "
                                              f"({', '.join(method_comparisons()) or 'none'}), got {comp!r}")
    kw: dict = {"comparison": comp}
    for key in ("suite", "impl", "baseline", "arch", "device", "differs", "caveat", "versus"):
        if key in m:
            if not isinstance(m[key], str):
                raise _bad(cid, f"measure.{key}", f"must be a string, got {m[key]!r}")
            kw[key] = m[key]
    for key in ("schemes", "stages", "layers", "networks"):
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
    if not isinstance(m.get("all_layers", False), bool):
        raise _bad(cid, "measure.all_layers", "must be true or false")
    kw["all_layers"] = m.get("all_layers", False)
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
    # strict: measured >= claimed, unless the claim itself states a tolerance (then say where)
    tol = _number(cid, "tolerance", c.get("tolerance", 0.0))
    if tol < 0:
        raise _bad(cid, "tolerance", "must be >= 0")
    implemented = c.get("implemented")
    if not isinstance(implemented, bool):
        raise _bad(cid, "implemented", "is required (true or false)")
    setup = c.get("setup")
    if not isinstance(setup, dict):
        raise _bad(cid, "setup", "is required (a table with network, dataset, sparsity, hardware, baseline, wording)")
    for key in sorted(_SETUP_KEYS - {"wording_source", "tolerance_source"}):
        if not isinstance(setup.get(key), str) or not setup[key]:
            raise _bad(cid, f"setup.{key}", "is required (a non-empty string)")
    if set(setup) - _SETUP_KEYS:
        raise _bad(cid, f"setup.{sorted(set(setup) - _SETUP_KEYS)[0]}", "is unknown")
    if tol > 0 and not (isinstance(setup.get("tolerance_source"), str) and setup["tolerance_source"]):
        raise _bad(cid, "tolerance", "needs setup.tolerance_source: a tolerance must be one the claim itself states")
    stand_in_for = c.get("stand_in_for", "")
    if not isinstance(stand_in_for, str):
        raise _bad(cid, "stand_in_for", "must be a claim id")
    if "measure" not in c:
        raise _bad(cid, "measure", "is required")
    measure = _parse_measure(cid, c["measure"])
    if implemented and measure.comparison in ("stage_time_sum", "scheme_vs", "flop_reduction", "memory_reduction"):
        for key in ("suite", "schemes", "stages"):
            if not getattr(measure, key):
                raise _bad(cid, f"measure.{key}", "is required for an implemented claim")
        if measure.sparsity is None:
            raise _bad(cid, "measure.sparsity", "is required for an implemented claim")
    if stand_in_for and not measure.differs:
        raise _bad(cid, "measure.differs", "is required for a stand-in row (write out the setup difference)")
    return Claim(id=cid, paper=c["paper"], method=c["method"], metric=c["metric"], value=value, range=rng,
                 expect=expect, tolerance=tol, implemented=implemented, todo=todo, setup=dict(setup),
                 measure=measure, stand_in_for=stand_in_for)


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
    for c in claims:
        if c.stand_in_for and c.stand_in_for not in seen:
            raise _bad(c.id, "stand_in_for", f"names no claim in the file: {c.stand_in_for!r}")
    return claims


# --- measured counterparts ------------------------------------------------------------------------


def _fmt(v: float, unit: str) -> str:
    if unit == "x":
        return f"{v:.2f}x"
    if unit == "fraction":
        return f"{100 * v:.0f}%"
    return f"{v:+.2f} pts"
