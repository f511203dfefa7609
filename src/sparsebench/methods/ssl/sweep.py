"""Accuracy vs learned structured sparsity: the accuracy CNN (sparsebench.accuracy) trained on
offline data with SSL at a sweep of lambdas and seeds, by the proximal step or the authors'
subgradient.

    python -m sparsebench.methods.ssl.sweep --dataset digits --mode prox --lams 0 0.03 0.1 \
        --seeds 0 1 2 --out results/struct/ssl-sweep-digits.json

Per (lambda, seed): test accuracy; per layer the row / column sparsity reached (exact zeros) and
the multiply-add fraction the compaction keeps; and the network's structured sparsity, the
fraction of its conv / hidden-layer multiply-adds the compaction removes (each layer weighted by
its own multiply-adds). With --out, one record of kind "accuracy" per run is appended to that
sparsebench results file (method "ssl", scheme "sweep-<mode>", sparsity slot = lambda, as the
accuracy runs use it; the seed and the machine in every record), which the report's SSL section
(Method.tables / figures) and `sparsebench table` read.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from ...accuracy.data import load
from ...accuracy.runs import DENSE, AccuracyCase, build_model
from .nn import ATTR, apply_ssl, prox_step, structured_sparsity

SCHEME = "sweep-{mode}"


@torch.no_grad()
def layer_macs(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Dense multiply-adds per sample of every SSL-regularized layer (name -> MACs)."""
    macs: dict[str, int] = {}
    hooks = []
    for name, m in model.named_modules():
        if getattr(m, ATTR, None) is None:
            continue

        def hook(mod, args, out, name=name):
            spatial = out[0, 0].numel() if out.dim() == 4 else 1
            macs[name] = int(mod.weight[0].numel() * mod.weight.shape[0] * spatial)

        hooks.append(m.register_forward_hook(hook))
    try:
        model(x[:1])
    finally:
        for h in hooks:
            h.remove()
    return macs


def network_structured_sparsity(layers: dict, macs: dict) -> float:
    """1 - (multiply-adds the compacted layers keep) / (dense multiply-adds), over ``macs``."""
    total = sum(macs.values())
    if total == 0:
        return 0.0
    return 1.0 - sum(layers[n]["flop_fraction"] * macs[n] for n in macs) / total


def run(dataset: str, lam: float, mode: str, epochs: int, seed: int = 0, lr: float = 0.05, batch: int = 64,
        kinds=("rows", "cols"), data=None) -> dict:
    data = data if data is not None else load(dataset)
    model = build_model(AccuracyCase(DENSE, "dense", 0.0, dataset, epochs, seed), data.image_size)
    apply_ssl(model, lam, kinds, mode=mode)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(data.y_train), generator=gen)
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            F.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
            opt.step()
            if mode == "prox":
                prox_step(model, lr)
    train_s = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((model(data.x_test).argmax(1) == data.y_test).double().mean())
    layers = structured_sparsity(model)
    macs = layer_macs(model, data.x_test)
    return {"dataset": dataset, "lam": lam, "mode": mode, "epochs": epochs, "seed": seed, "lr": lr, "batch": batch,
            "accuracy": acc, "layers": layers, "layer_macs": macs,
            "structured_sparsity": network_structured_sparsity(layers, macs), "train_s": train_s,
            "kinds": list(kinds)}


CASE_KEYS = ("dataset", "epochs", "seed", "kinds", "mode")


def save(rows: list[dict], out) -> None:
    """Append one "accuracy" record per run to the results file ``out`` (machine and seed in each)."""
    from ... import kernels
    from ...harness.run import compact_machine
    from ...measure import ResultStore, machine_record, make_record

    machine = compact_machine(machine_record(), kernels.resolve_isa(None))
    recs = []
    for r in rows:
        scheme = SCHEME.format(mode=r["mode"])
        case = {"method": "ssl", "scheme": scheme, "sparsity": r["lam"], "lam": r["lam"],
                **{k: r[k] for k in CASE_KEYS},
                "id": f"{r['dataset']}/ssl/{scheme}/s{r['lam']:g}/seed{r['seed']}"}
        metrics = {k: v for k, v in r.items() if k not in case and k != "lam"}
        metrics["threads"] = torch.get_num_threads()
        recs.append(make_record("accuracy", case, metrics, machine))
    ResultStore(out).extend(recs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="digits", choices=("digits", "mnist"))
    ap.add_argument("--mode", default="prox", choices=("prox", "subgrad"))
    ap.add_argument("--lams", type=float, nargs="+", default=(0.0, 0.01, 0.03, 0.1))
    ap.add_argument("--seeds", type=int, nargs="+", default=(0,))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared machines)")
    ap.add_argument("--out", default=None, help="sparsebench results file the records are appended to")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = load(a.dataset)
    print(f"{'lambda':>8} {'seed':>4} {'acc':>6} {'struct':>6}  per layer: row sparsity / column sparsity / MACs kept")
    for lam in a.lams:
        for seed in a.seeds:
            r = run(a.dataset, lam, a.mode, a.epochs, seed=seed, data=data)
            cells = "  ".join(f"{n}: {v['row_sparsity']:.2f}/{v['col_sparsity']:.2f}/{v['flop_fraction']:.2f}"
                              for n, v in r["layers"].items())
            print(f"{lam:8.3g} {seed:4d} {r['accuracy']:6.3f} {r['structured_sparsity']:6.3f}  {cells}", flush=True)
            if a.out:  # each run kept as it finishes (an interrupted sweep keeps what it has)
                save([r], a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
