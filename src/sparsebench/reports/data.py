"""Reading result records for a report and describing where a figure's numbers come from."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Iterable

from ..measure import load_all, load_records

BASELINE = "torch-dense"
OURS = "sparsebench"


def load_paths(paths: Iterable) -> tuple[list[dict], list[tuple[Path, str]]]:
    """Records from result files and directories; unreadable files are returned, not raised."""
    records: list[dict] = []
    bad: list[tuple[Path, str]] = []
    for p in map(Path, paths):
        if p.is_dir():
            recs, errors = load_all(p)
            records += recs
            bad += errors
        elif p.exists():
            try:
                records += load_records(p)
            except (ValueError, OSError) as exc:
                bad.append((p, str(exc)))
        else:
            bad.append((p, "no such file or directory"))
    return records, bad


def well_formed(records: Iterable[dict]) -> tuple[list[dict], int]:
    """Records that have the fields a report reads; a partial record is counted and skipped."""
    ok, dropped = [], 0
    for r in records:
        try:
            kind = r["kind"]
            if kind in ("stage", "unavailable", "error"):
                c = r["case"]
                (c["suite"], c["layer"], c["scheme"], c["stage"], float(c["sparsity"]), c["threads"])
                r["machine"]["id"]
                if kind == "stage":
                    c["impl"], float(r["metrics"]["median_s"])
            elif kind == "accuracy":
                float(r["metrics"]["accuracy"]), float(r["case"]["sparsity"])
            elif kind == "train":  # whole-network step (sparsebench train)
                c, m = r["case"], r["metrics"]
                (c["id"], c["model"], c["scheme"], float(c["sparsity"]), c["threads"], r["machine"]["id"])
                float(m["speedup"]), float(m["dense"]["median_s"]), float(m["method"]["median_s"])
            ok.append(r)
        except (KeyError, TypeError, ValueError):
            dropped += 1
    return ok, dropped


def latest(records: Iterable[dict]) -> list[dict]:
    """The newest stage record per (machine, case id, impl)."""
    best: dict[tuple, dict] = {}
    for r in records:
        if r.get("kind") != "stage":
            continue
        key = (r["machine"]["id"], r["case"].get("id") or str(sorted(r["case"].items())), r["case"]["impl"])
        if key not in best or str(r.get("created", "")) >= str(best[key].get("created", "")):
            best[key] = r
    return list(best.values())


def machines(records: Iterable[dict]) -> dict[str, dict]:
    """machine id -> facts for captions (cpu, arch, isa, torch, commits, threads seen)."""
    out: dict[str, dict] = {}
    for r in records:
        m = r.get("machine") or {}
        if r.get("kind") == "machine" or "id" not in m:
            continue
        info = out.setdefault(m["id"], {"cpu": m.get("cpu"), "arch": m.get("arch"), "isa": set(), "torch": set(),
                                        "commit": set(), "threads": set()})
        info["isa"].add(str(m.get("isa")))
        info["torch"].add(str(m.get("torch")))
        info["commit"].add((m.get("commit") or "nocommit")[:10] + ("+dirty" if m.get("dirty") else ""))
        if "threads" in (r.get("case") or {}):
            info["threads"].add(r["case"]["threads"])
    return out


def caption(machine_id: str, info: dict, threads, baseline: str = BASELINE) -> str:
    """Every figure names machine, threads, ISA, commit and baseline."""
    thr = threads if isinstance(threads, (int, str)) else ",".join(map(str, sorted(threads)))
    return (f"{machine_id} | {thr} thread(s) | ISA {'/'.join(sorted(info['isa']))} | "
            f"commit {'/'.join(sorted(info['commit']))} | baseline {baseline}")


def speedup_curves(recs: list[dict], machine: str, threads: int, suite: str, stage: str,
                   impl: str = OURS) -> dict[str, dict[str, dict[float, float]]]:
    """scheme -> layer -> sparsity -> speedup vs torch-dense."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for r in recs:
        c, m = r["case"], r["metrics"]
        if (r["machine"]["id"], c["threads"], c["suite"], c["stage"], c["impl"]) == (machine, threads, suite, stage, impl) \
                and m.get("speedup_vs_torch_dense") is not None:
            out[c["scheme"]][c["layer"]][float(c["sparsity"])] = m["speedup_vs_torch_dense"]
    return out


def median_curve(per_layer: dict[str, dict[float, float]]) -> dict[float, float]:
    by_s: dict[float, list[float]] = defaultdict(list)
    for points in per_layer.values():
        for s, v in points.items():
            by_s[s].append(v)
    return {s: median(v) for s, v in sorted(by_s.items())}


def groups(recs: list[dict]) -> list[tuple[str, int]]:
    """(machine, threads) pairs present, sorted."""
    return sorted({(r["machine"]["id"], r["case"]["threads"]) for r in recs})
