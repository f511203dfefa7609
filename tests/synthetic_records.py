"""Synthetic result records with known answers, for the report and claims tests (a test helper,
not part of the package). Never mixed with measured results (machine ids start with "synthetic-")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from sparsebench import catalogue
from sparsebench.formats import get_format
from sparsebench.measure import dense_flops, effective_flops

SCHEMES = ("unstructured", "block", "pattern", "filter")
WEIGHT_STAGES = ("forward", "backward_data", "weight_grad_sampled", "update", "backward", "step")

MACHINES = {
    "x86": {"id": "synthetic-epyc-x86_64-2c", "cpu": "Synthetic EPYC", "arch": "x86_64", "isa": "avx512"},
    "arm": {"id": "synthetic-graviton-aarch64-2c", "cpu": "Synthetic Graviton", "arch": "aarch64", "isa": "neon"},
}
# rate of useful FLOPs relative to dense per scheme: speedup = efficiency / (1 - s)
EFFICIENCY = {"unstructured": 0.25, "block": 0.5, "pattern": 0.6, "filter": 0.9, "actgrad": 0.45}
DENSE_FLOPS_PER_S = 100e9
CREATED = "2025-01-01T00:00:00+00:00"


def machine_full(kind: str = "x86") -> dict:
    m = MACHINES[kind]
    return {"hostname": "synthetic", "arch": m["arch"], "logical_cores": 2, "isa": m["isa"],
            "cpu": {"brand": m["cpu"]}, "torch": {"version": "2.13.0"},
            "git": {"commit": "0123456789abcdef0123", "dirty": False}, "timestamp": CREATED}


def machine_compact(kind: str = "x86", threads: int = 1) -> dict:
    m = MACHINES[kind]
    return {"id": m["id"], "cpu": m["cpu"], "arch": m["arch"], "logical_cores": 2, "isa": m["isa"],
            "torch": "2.13.0", "commit": "0123456789abcdef0123", "dirty": False, "threads": threads}


def stage_record(kind: str, suite: str, layer: str, scheme: str, stage: str, sparsity: float, impl: str,
                 median_s: float, threads: int = 1, created: str = CREATED, **metrics) -> dict:
    case = {"suite": suite, "layer": layer, "scheme": scheme, "stage": stage, "sparsity": sparsity,
            "threads": threads}
    case["id"] = f"{suite}/{layer}/{scheme}/{stage}/s{sparsity:g}/t{threads}"
    case["impl"] = impl
    return {"schema": 1, "kind": "stage", "case": case, "metrics": {"median_s": median_s, "iqr_s": 0.02 * median_s,
            **metrics}, "machine": machine_compact(kind, threads), "created": created}


def _pair(kind, suite, layer, scheme, stage, s, speedup, threads, flops_stage) -> list[dict]:
    """Ours and torch-dense records of one case with the given speedup."""
    shape = catalogue.LAYERS[layer].shape
    dense = dense_flops(shape, flops_stage, sampled=True)
    eff = effective_flops(shape, flops_stage, weight_density=1.0 - s, sampled=True)
    t_dense = dense / DENSE_FLOPS_PER_S
    wbytes = 4 * shape.k * (shape.cout if hasattr(shape, "cout") else shape.out_features)
    common = {"dense_flops": dense, "effective_flops": eff, "flop_reduction": dense / max(eff, 1),
              "sparsity_reached": s, "memory_method": "fresh child, first call (clear_refs)"}
    ours = stage_record(kind, suite, layer, scheme, stage, s, "sparsebench", t_dense / speedup, threads,
                        speedup_vs_torch_dense=speedup, efficiency=speedup * eff / dense,
                        tensor_bytes=int(wbytes * (1 - s) * 1.5) + 1024, peak_delta_bytes=int(wbytes * (1 - s) * 2),
                        **common)
    base = stage_record(kind, suite, layer, scheme, stage, s, "torch-dense", t_dense, threads,
                        speedup_vs_torch_dense=1.0, efficiency=eff / dense, tensor_bytes=wbytes + 1024,
                        peak_delta_bytes=wbytes * 2, **common)
    return [ours, base]


def suite_records(kind: str = "x86", *, layers=("alexnet-conv3", "alexnet-conv4", "alexnet-conv5", "linear-1024"),
                  sparsities=(0.0, 0.5, 0.9, 0.99), rates=(0.9, 0.99), threads=(1,),
                  speedup: Callable[[str, str, str, float], float] | None = None) -> list[dict]:
    """A machine record followed by weight_sparse and actgrad stage records of one machine.
    `speedup(scheme, layer, stage, s)` overrides the default efficiency / (1 - s) model."""
    scale = 1.0 if kind == "x86" else 0.8

    def default(scheme, layer, stage, s):
        return scale * EFFICIENCY[scheme] / (1.0 - s) if s > 0 else scale * 0.9

    fn = speedup or default
    out = [{"schema": 1, "kind": "machine", "case": {}, "metrics": {}, "machine": machine_full(kind),
            "created": CREATED}]
    for t in threads:
        for layer in layers:
            for scheme in SCHEMES:
                if not get_format(scheme).accepts(catalogue.LAYERS[layer].shape.weight_shape):
                    continue
                for stage in WEIGHT_STAGES:
                    for s in sparsities:
                        out += _pair(kind, "weight_sparse", layer, scheme, stage, s, fn(scheme, layer, stage, s), t,
                                     stage)
            for stage in ("backward_data", "weight_grad", "backward"):
                for p in rates:
                    flops_stage = "backward_data" if stage == "backward" else stage
                    for scheme in ("actgrad", "actgrad-captured"):  # Gaussian stress rows and captured rows
                        out += _pair(kind, "actgrad", layer, scheme, stage, p,
                                     min(fn("actgrad", layer, stage, p), 8.0), t, flops_stage)
    return out


def accuracy_records(method: str = "mest", dataset: str = "digits") -> list[dict]:
    """Two seeds per run (seed 1 is 0.01 lower), and the dense model at both seeds."""
    out = []
    runs = [("dense", "dense", 0.0)] + [(method, sc, s) for sc in ("unstructured", "block") for s in (0.0, 0.5, 0.9)]
    for meth, scheme, s in runs:
        for seed in (0, 1):
            acc = 0.98 - 0.01 * seed - (0.0 if meth == "dense" else (0.05 if scheme == "unstructured" else 0.08) * s)
            curve = [2.3 * (0.8 ** e) + 0.1 + s * 0.1 for e in range(10)]
            out.append({"schema": 1, "kind": "accuracy",
                        "case": {"method": meth, "scheme": scheme, "sparsity": s, "dataset": dataset, "seed": seed,
                                 "epochs": 10},
                        "metrics": {"accuracy": acc, "loss_curve": curve}, "machine": machine_compact("x86"),
                        "created": CREATED})
    return out


def write_results(results_dir, kinds=("x86", "arm"), *, accuracy: bool = True, train: bool = True,
                  **suite_kw) -> list[Path]:
    """results_dir/<machine id>/<stamp>-synthetic.json per machine kind, as `sparsebench run` lays
    them out; suite_kw goes to suite_records (layers, sparsities, rates, threads)."""
    paths = []
    for kind in kinds:
        recs = suite_records(kind, **suite_kw) + (accuracy_records("static_mask") if accuracy and kind == "x86" else [])
        recs += train_records(kind) if train else []
        path = Path(results_dir) / MACHINES[kind]["id"] / "20250101T000000Z-synthetic.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"schema": 1, "records": recs}))
        paths.append(path)
    return paths


def train_record(kind: str = "x86", model: str = "resnet20", method: str = "actgrad", scheme: str = "actgrad",
                 sparsity: float = 0.9, speedup: float = 1.5, threads: int = 1) -> dict:
    """A "train" record of `sparsebench train` (whole-network step) with a two-layer breakdown."""
    dense = 0.1
    layers = [{"name": "conv1", "kind": "conv", "weight_shape": [16, 3, 3, 3], "geometry": "3x3/s1",
               "converted": False, "reason": "first layer stays dense"},
              {"name": "conv2", "kind": "conv", "weight_shape": [16, 16, 3, 3], "geometry": "3x3/s1",
               "converted": True, "reason": "", "grad_density": 0.4}]
    bd = {"dense": {"layers": {"conv1": {"forward": 0.01, "backward": 0.02}, "conv2": {"forward": 0.02, "backward": 0.04}},
                    "step": {"update": 0.005, "other": 0.005}, "profiled_step_s": 0.1},
          "method": {"layers": {"conv1": {"forward": 0.01, "backward": 0.02},
                                "conv2": {"forward": 0.02, "front_end": 0.002, "backward_data": 0.008,
                                          "weight_grad": 0.006, "other": 0.001}},
                     "step": {"update": 0.005, "other": 0.005}, "profiled_step_s": 0.08}}
    case = {"model": model, "method": method, "scheme": scheme, "sparsity": sparsity, "threads": threads, "steps": 5,
            "data": "digits", "batch": 32, "world_size": 1, "mask_update_every": 0,
            "id": f"train/{model}/{method}/{scheme}/s{sparsity:g}/t{threads}/w1"}
    metrics = {"dense": {"median_s": dense, "iqr_s": 0.01, "samples": [dense] * 5},
               "method": {"median_s": dense / speedup, "iqr_s": 0.01, "samples": [dense / speedup] * 5},
               "speedup": speedup, "breakdown": bd, "layers": layers, "converted": 1, "dense_layers": 1}
    return {"schema": 1, "kind": "train", "case": case, "metrics": metrics, "machine": machine_compact(kind, threads),
            "created": CREATED}


def train_records(kind: str = "x86") -> list[dict]:
    """Whole-network records: resnet20 and alexnet at p = 0.9, and one resnet20 line over s."""
    out = [train_record(kind, m, speedup=v) for m, v in (("resnet20", 1.4), ("alexnet", 1.8))]
    out += [train_record(kind, "resnet20", "static_mask", "unstructured", s, 0.5 + s) for s in (0.5, 0.7, 0.9, 0.95)]
    return out
