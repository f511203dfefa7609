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


def accuracy_runs(records: Iterable[dict]) -> dict[tuple, dict[int, dict]]:
    """(dataset, method, scheme, sparsity, epochs) -> seed -> the newest accuracy record of that
    run: a rerun replaces its seed, other seeds add to the spread."""
    runs: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for r in sorted((r for r in records if r.get("kind") == "accuracy"), key=lambda r: str(r.get("created", ""))):
        c = r["case"]
        key = (str(c.get("dataset", "?")), str(c.get("method", "?")), str(c.get("scheme", "?")),
               round(float(c["sparsity"]), 9), c.get("epochs") or r["metrics"].get("epochs"))
        runs[key][int(c.get("seed", 0) or 0)] = r
    return runs


def accuracy_summary(records: Iterable[dict]) -> list[dict]:
    """One row per run over its seeds: mean, min, max accuracy, and the mean difference to the
    dense model of the same data set and budget at the same seeds (points), where one was run."""
    runs = accuracy_runs(records)
    dense = {(k[0], k[4]): v for k, v in runs.items() if k[1] == "dense"}
    rows = []
    for key in sorted(runs, key=lambda k: (k[0], k[1] != "dense", k[1], k[2], k[3], str(k[4]))):
        seeds = runs[key]
        acc = [seeds[s]["metrics"]["accuracy"] for s in sorted(seeds)]
        ref = dense.get((key[0], key[4]), {})
        both = [s for s in seeds if s in ref]
        delta = (sum(100 * (seeds[s]["metrics"]["accuracy"] - ref[s]["metrics"]["accuracy"]) for s in both) / len(both)
                 if both and key[1] != "dense" else None)
        rows.append({"dataset": key[0], "method": key[1], "scheme": key[2], "sparsity": key[3], "epochs": key[4],
                     "seeds": sorted(seeds), "mean": sum(acc) / len(acc), "min": min(acc), "max": max(acc),
                     "vs_dense_pts": delta, "paired_seeds": len(both)})
    return rows
