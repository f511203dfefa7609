"""Run-to-run comparison: the per-case ratio of medians between two record sets (two commits,
two machines, two thread counts, before / after a kernel change), cases matched by their full
identity, regressions and improvements beyond a threshold flagged. `sparsebench compare` exits
1 on a regression, so it can gate a CI job (as `asv continuous` and pytest-benchmark's
--benchmark-compare-fail do)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..cases import OURS

DEFAULT_THRESHOLD = 1.10


# what is compared: a case's median time (new / old), or its speedup over the torch-dense timing of
# its own run (old / new: robust to a machine that was busier in one of the runs)
BY = ("time", "speedup")


@dataclass
class Row:
    case: str  # case id (suite/layer/scheme/stage/sparsity/threads)
    impl: str
    old: float  # median seconds, or speedup
    new: float
    old_machine: str
    new_machine: str
    by: str = "time"

    @property
    def ratio(self) -> float:
        """> 1 is worse: new/old time, or old/new speedup."""
        num, den = (self.new, self.old) if self.by == "time" else (self.old, self.new)
        return num / den if den > 0 else float("inf")

    def flag(self, threshold: float) -> str:
        if self.ratio > threshold:
            return "regression"
        if self.ratio < 1.0 / threshold:
            return "improvement"
        return ""


@dataclass
class Comparison:
    rows: list[Row]
    only_old: list[tuple[str, str]] = field(default_factory=list)  # (case id, impl)
    only_new: list[tuple[str, str]] = field(default_factory=list)
    threshold: float = DEFAULT_THRESHOLD

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.flag(self.threshold) == "regression"]

    @property
    def improvements(self) -> list[Row]:
        return [r for r in self.rows if r.flag(self.threshold) == "improvement"]


_METRIC = {"time": "median_s", "speedup": "speedup_vs_torch_dense"}


def _latest(records, metric: str) -> dict[tuple[str, str], dict]:
    """(case id, impl) -> the newest stage record of it (re-runs supersede older figures)."""
    best: dict[tuple[str, str], dict] = {}
    for r in records:
        if r.get("kind") != "stage" or not (r.get("metrics") or {}).get(metric):
            continue
        key = (r["case"]["id"], r["case"]["impl"])
        if key not in best or r.get("created", "") >= best[key].get("created", ""):
            best[key] = r
    return best


def compare(old_records, new_records, *, threshold: float = DEFAULT_THRESHOLD,
            impls: tuple[str, ...] | None = (OURS,), by: str = "time") -> Comparison:
    """Match cases by identity (case id and implementation; machines may differ: that is one of
    the comparisons this is for). ``impls`` None compares every implementation."""
    if not threshold > 1.0:
        raise ValueError(f"threshold must be > 1 (a ratio such as 1.10), got {threshold!r}")
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, got {by!r}")
    metric = _METRIC[by]
    old, new = _latest(old_records, metric), _latest(new_records, metric)
    if impls is not None:
        old = {k: v for k, v in old.items() if k[1] in impls}
        new = {k: v for k, v in new.items() if k[1] in impls}
    rows = [Row(k[0], k[1], old[k]["metrics"][metric], new[k]["metrics"][metric],
                old[k]["machine"].get("id", "?"), new[k]["machine"].get("id", "?"), by)
            for k in sorted(old.keys() & new.keys())]
    return Comparison(rows, sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys()), threshold)


def text(cmp: Comparison) -> str:
    if not cmp.rows:
        lines = ["no case is in both record sets"]
    else:
        width = max(len(r.case) for r in cmp.rows)
        by = cmp.rows[0].by
        unit, scale, ratio = ("ms", 1e3, "new/old") if by == "time" else ("speedup", 1.0, "old/new")
        lines = [f"{'case':<{width}}  {'impl':<12} {'old ' + unit:>12} {'new ' + unit:>12} {ratio:>8}  flag",
                 "-" * (width + 54)]
        for r in cmp.rows:
            lines.append(f"{r.case:<{width}}  {r.impl:<12} {r.old * scale:>12.3f} {r.new * scale:>12.3f} "
                         f"{r.ratio:>8.3f}  {r.flag(cmp.threshold)}")
    machines = sorted({(r.old_machine, r.new_machine) for r in cmp.rows})
    lines += ["", f"{len(cmp.rows)} cases matched ({', '.join(f'{a} -> {b}' for a, b in machines) or '-'}); "
                  f"threshold {cmp.threshold:g} (> 1 = worse): {len(cmp.regressions)} regressions, "
                  f"{len(cmp.improvements)} improvements"]
    for label, keys in (("only in OLD", cmp.only_old), ("only in NEW", cmp.only_new)):
        if keys:
            lines.append(f"{label} ({len(keys)}): " + ", ".join(f"{c} [{i}]" for c, i in keys[:20])
                         + (" ..." if len(keys) > 20 else ""))
    return "\n".join(lines)
