"""Whole-network figures of a SWAT model: training FLOPs counted per layer (forward + backward-data
+ weight gradient; the first layer needs no backward-data), the stored activations between
forward and backward and the weight bytes the backward pass reads, dense vs SWAT.

  python -m sparsebench.methods.swat.network --dataset mnist --weights 0.9 --acts 0.9 [--epochs 12 --seeds 0 1 2]
      [--no-train] [--out F]

trains the accuracy CNN (sparsebench.accuracy.runs) dense and with SWAT through the Method's
hooks, prints accuracy per seed and the whole-network counts; --no-train counts only (the counts
do not depend on training); --out appends one "swat_network" record per weights x acts and,
when training, the runs' "accuracy" records (the report's SWAT and accuracy sections read them).
"""

from __future__ import annotations

import argparse
import json

import torch
from torch import nn

from .nn import _SwatLayer


def _macs(m: nn.Module, x_shape, y_shape) -> int:
    if isinstance(m, nn.Conv2d) or (isinstance(m, _SwatLayer) and m.weight.dim() == 4):
        kh, kw = m.weight.shape[2:]
        return int(y_shape[0] * y_shape[2] * y_shape[3] * m.weight.shape[0] * m.weight.shape[1] * kh * kw)
    return int(x_shape[0] * m.weight.shape[0] * m.weight.shape[1])


def network_counts(model: nn.Module, x: torch.Tensor) -> dict:
    """One training forward (the model in train mode, thresholds as they stand) with hooks on every
    conv / linear leaf: dense vs SWAT training FLOPs and backward-pass bytes."""
    leaves = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear, _SwatLayer))]
    seen: dict = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=n: seen.__setitem__(name, (inp[0].shape, out.shape)))
             for n, m in leaves]
    try:
        model.train()
        model(x).sum().backward()
    finally:
        for h in hooks:
            h.remove()
    model.zero_grad()
    rows, tot = [], {"dense_flops": 0, "swat_flops": 0, "dense_act_bytes": 0, "swat_act_bytes": 0,
                     "dense_weight_bytes": 0, "swat_weight_bytes": 0}
    for i, (name, m) in enumerate(leaves):
        xs, ys = seen[name]
        mac = _macs(m, xs, ys)
        parts = 2 if i == 0 else 3  # forward, (backward-data), weight gradient
        dense = 2 * mac * parts
        dense_act = 4 * int(torch.Size(xs).numel())
        dense_w = 4 * m.weight.numel()
        if isinstance(m, _SwatLayer):
            st = m.stats()
            wd, ad = st["weight_density"], st["act_density"]
            swat = 2 * mac * (wd + wd + ad)
            act_b, w_b = st["act_bytes"], m.sw.tensor_bytes()  # CSR + the transposed structure backward built
        else:
            swat, act_b, w_b, wd, ad = dense, dense_act, dense_w, 1.0, 1.0
        rows.append({"layer": name, "swat": isinstance(m, _SwatLayer), "weight_density": wd, "act_density": ad,
                     "dense_flops": dense, "swat_flops": round(swat), "act_bytes": act_b, "dense_act_bytes": dense_act,
                     "weight_bytes": w_b, "dense_weight_bytes": dense_w})
        tot["dense_flops"] += dense
        tot["swat_flops"] += round(swat)
        tot["dense_act_bytes"] += dense_act
        tot["swat_act_bytes"] += act_b
        tot["dense_weight_bytes"] += dense_w
        tot["swat_weight_bytes"] += w_b
    tot["flop_reduction"] = 1 - tot["swat_flops"] / tot["dense_flops"]
    tot["act_memory_reduction"] = 1 - tot["swat_act_bytes"] / tot["dense_act_bytes"]
    tot["weight_memory_reduction"] = 1 - tot["swat_weight_bytes"] / tot["dense_weight_bytes"]
    return {"layers": rows, "total": tot}


NETWORK_KIND = "swat_network"


def main(argv=None) -> None:
    from dataclasses import asdict

    from ...accuracy.data import load
    from ...accuracy.runs import DENSE, AccuracyCase, build_model, train

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=["digits", "mnist"])
    p.add_argument("--weights", type=float, nargs="+", default=[0.9])
    p.add_argument("--acts", type=float, nargs="+", default=[0.9])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--no-train", action="store_true", help="the whole-network counts only")
    p.add_argument("--json")
    p.add_argument("--out", help="append result records to this results file")
    args = p.parse_args(argv)
    data = load(args.dataset)
    store = machine = None
    if args.out:
        from ...harness.run import compact_machine
        from ...kernels import resolve_isa
        from ...measure import ResultStore, machine_record, make_record

        store, machine = ResultStore(args.out), compact_machine(machine_record(), resolve_isa(None))

    def record(kind, case, metrics):
        if store is not None:
            store.append(make_record(kind, case, metrics, machine))

    out = []
    for w in args.weights:  # counts: one fresh SWAT model per sparsity pair, training not needed
        for a in args.acts:
            case = AccuracyCase("swat", f"swat-a{a:g}", w, args.dataset, args.epochs, 0)
            counts = network_counts(build_model(case, data.image_size), data.x_train[:64])
            record(NETWORK_KIND, {"id": f"swat/network/{args.dataset}/w{w:g}/a{a:g}", "dataset": args.dataset,
                                  "weights": w, "acts": a, "batch": 64}, counts)
            t = counts["total"]
            print(f"{args.dataset} swat w{w:g} a{a:g}: FLOPs {-t['flop_reduction']:+.1%}, stored activations "
                  f"{-t['act_memory_reduction']:+.1%}, backward weights {-t['weight_memory_reduction']:+.1%}", flush=True)
            out.append({"scheme": case.scheme, "weights": w, "acts": a, "counts": t})
    for seed in [] if args.no_train else args.seeds:
        cases = [AccuracyCase(DENSE, DENSE, 0.0, args.dataset, args.epochs, seed)]
        cases += [AccuracyCase("swat", f"swat-a{a:g}", w, args.dataset, args.epochs, seed)
                  for w in args.weights for a in args.acts]
        for case in cases:
            r = train(case, data)
            record("accuracy", {**asdict(case), "id": case.id}, r)
            out.append({"seed": seed, "scheme": case.scheme, "sparsity": case.sparsity, "accuracy": r["accuracy"],
                        "train_s": r["train_s"], "layer_stats": r.get("layer_stats")})
            print(f"{args.dataset} seed {seed} {case.scheme} w{case.sparsity:g}: {r['accuracy']:.4f} "
                  f"({r['train_s']:.0f} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
