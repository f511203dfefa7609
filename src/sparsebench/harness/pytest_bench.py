"""Convert pytest-benchmark's --benchmark-json output into sparsebench result records, so the
reports read one format whichever runner measured."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..measure import ResultStore, flop_reduction, machine_id, make_record


def _machine(data: dict) -> dict:
    info = data.get("machine_info") or {}
    cpu = info.get("cpu") or {}
    commit = data.get("commit_info") or {}
    pseudo = {"cpu": {"brand": cpu.get("brand_raw")}, "arch": info.get("machine"), "logical_cores": cpu.get("count")}
    return {
        "id": machine_id(pseudo),
        "cpu": cpu.get("brand_raw"),
        "arch": info.get("machine"),
        "logical_cores": cpu.get("count"),
        "commit": commit.get("id"),
        "dirty": commit.get("dirty"),
        "source": "pytest-benchmark",
    }


def convert(json_path: Path, out: Path) -> int:
    """Append one record per benchmark of json_path to the result file out; returns the count."""
    try:
        data = json.loads(Path(json_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{json_path}: not a readable pytest-benchmark JSON file ({exc})") from exc
    if "benchmarks" not in data:
        raise ValueError(f"{json_path}: no 'benchmarks' list (is it --benchmark-json output?)")
    machine = _machine(data)
    rows = []
    for b in data["benchmarks"]:
        extra = b.get("extra_info") or {}
        case = extra.get("case")
        if not case:
            continue  # not one of ours
        rows.append((dict(case, id=b.get("group"), impl=extra["impl"]), extra, b["stats"]))
    dense = {c["id"]: s["median"] for c, _, s in rows if c["impl"] == "torch-dense"}
    records = []
    for case, extra, stats in rows:
        de, ef = extra.get("dense_flops") or 0, extra.get("effective_flops") or 0
        reduction = flop_reduction(de, ef) if de else None
        metrics = {
            "median_s": stats["median"],
            "iqr_s": stats["iqr"],
            "samples": stats["rounds"],
            "dense_flops": de,
            "effective_flops": ef,
            "flop_reduction": reduction,
            "tensor_bytes": extra.get("tensor_bytes"),
            "peak_delta_bytes": None,
            "memory_method": "unavailable",
            **{k: extra[k] for k in ("sparsity_reached", "nnz") if k in extra},
        }
        if extra.get("bytes_moved") and stats["median"] > 0:
            metrics["gbytes_per_s"] = extra["bytes_moved"] / stats["median"] / 1e9
        if case["id"] in dense and stats["median"] > 0:
            s = dense[case["id"]] / stats["median"]
            metrics["speedup_vs_torch_dense"] = s
            metrics["efficiency"] = s / reduction if reduction and math.isfinite(reduction) else None
        records.append(make_record("stage", case, metrics, {**machine, "threads": case.get("threads")}))
    ResultStore(out).extend(records)
    return len(records)
