"""Merging vs plain pruning at the same size, no fine-tuning, on offline data: the accuracy CNN
(sparsebench.accuracy: conv 1->16, conv 16->32 stride 2, linear) and an MLP (in-256-256-10),
trained once per data set; then for each kept fraction:

  conv2 filters   prune (L1, dropped) | merge (L1 + cosine fold into the linear layer)
                  | prune + fine-tune (the L1 recipe, a few epochs) for reference
  fc1 neurons     prune (L1, dropped) | merge (cosine fold) | surgery (Srinivas & Babu saliency)

    python -m sparsebench.methods.merging.experiment --dataset digits --seeds 0 1 2 --out results/merging.json

Records of kind "accuracy" (method "merging", scheme = net/layer/variant, sparsity = fraction of
units removed, the seed and the machine in each) are appended to --out (a sparsebench results
file), so claims and the report's merging section (Method.tables / figures) read them.
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from torch import nn

from ...accuracy.data import load
from ...accuracy.runs import DENSE, AccuracyCase, build_model
from .reference import filter_merge, surgery

FRACTIONS = (0.25, 0.5, 0.75)


def _train(model, data, epochs, lr=0.05, seed=0, flat=False):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(seed)
    x = data.x_train.flatten(1) if flat else data.x_train
    for _ in range(epochs):
        order = torch.randperm(len(data.y_train), generator=gen)
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), data.y_train[idx]).backward()
            opt.step()
    return model


@torch.no_grad()
def accuracy(model, data, flat=False) -> float:
    x = data.x_test.flatten(1) if flat else data.x_test
    return float((model(x).argmax(1) == data.y_test).double().mean())


@torch.no_grad()
def cnn_variant(model: nn.Sequential, keep: int, fold: bool) -> nn.Sequential:
    """The CNN with conv2 (index 2) cut to ``keep`` filters, the linear layer (index 5) adjusted."""
    conv, fc = model[2], model[5]
    group = fc.in_features // conv.out_channels
    kept, w, b, wn = filter_merge(conv.weight, conv.bias, fc.weight, keep, fold=fold, group=group)
    new = copy.deepcopy(model)
    new[2] = nn.Conv2d(conv.in_channels, keep, conv.kernel_size, conv.stride, conv.padding)
    new[2].weight.copy_(w)
    new[2].bias.copy_(b)
    new[5] = nn.Linear(keep * group, fc.out_features)
    new[5].weight.copy_(wn)
    new[5].bias.copy_(fc.bias)
    return new


def mlp(d_in: int, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


@torch.no_grad()
def mlp_variant(model: nn.Sequential, keep: int, how: str) -> nn.Sequential:
    """fc1 (index 0) cut to ``keep`` neurons: "prune" | "merge" (cosine fold) | "surgery"."""
    l1, l2 = model[0], model[2]
    if how == "surgery":
        w, b, wn = surgery(l1.weight, l1.bias, l2.weight, keep)
    else:
        _, w, b, wn = filter_merge(l1.weight, l1.bias, l2.weight, keep, fold=how == "merge")
    new = copy.deepcopy(model)
    new[0] = nn.Linear(l1.in_features, keep)
    new[0].weight.copy_(w)
    new[0].bias.copy_(b)
    new[2] = nn.Linear(keep, l2.out_features)
    new[2].weight.copy_(wn)
    new[2].bias.copy_(l2.bias)
    return new


def run(dataset: str = "digits", epochs: int = 12, finetune_epochs: int = 2, fractions=FRACTIONS, seed: int = 0,
        data=None) -> list[dict]:
    """Every row of one seed (the seed draws the initial weights and the example order)."""
    data = data if data is not None else load(dataset)
    rows = []
    cnn = _train(build_model(AccuracyCase(DENSE, "dense", 0.0, dataset, epochs, seed), data.image_size), data, epochs,
                 seed=seed)
    base = accuracy(cnn, data)
    rows.append({"scheme": "cnn/conv2/dense", "sparsity": 0.0, "accuracy": base})
    c = cnn[2].out_channels
    for f in fractions:
        keep = max(1, int(round(c * (1 - f))))
        for fold, tag in ((False, "prune"), (True, "merge")):
            rows.append({"scheme": f"cnn/conv2/{tag}", "sparsity": f, "accuracy": accuracy(cnn_variant(cnn, keep, fold), data),
                         "kept": keep, "of": c})
        ft = _train(cnn_variant(cnn, keep, False), data, finetune_epochs, lr=0.01, seed=seed + 1000)
        rows.append({"scheme": "cnn/conv2/prune+finetune", "sparsity": f, "accuracy": accuracy(ft, data),
                     "kept": keep, "of": c, "finetune_epochs": finetune_epochs})
    d_in = data.x_train[0].numel()
    net = _train(mlp(d_in, seed), data, epochs, seed=seed, flat=True)
    rows.append({"scheme": "mlp/fc1/dense", "sparsity": 0.0, "accuracy": accuracy(net, data, flat=True)})
    h = net[0].out_features
    for f in fractions:
        keep = max(1, int(round(h * (1 - f))))
        for how in ("prune", "merge", "surgery"):
            rows.append({"scheme": f"mlp/fc1/{how}", "sparsity": f,
                         "accuracy": accuracy(mlp_variant(net, keep, how), data, flat=True), "kept": keep, "of": h})
    for r in rows:
        r["dataset"], r["seed"], r["epochs"] = dataset, seed, epochs
    return rows


def claim_grid(profile_name: str) -> list[tuple[str, int, int]]:
    """(data set, seed, epochs) runs `sparsebench validate` makes for the merging claim."""
    if profile_name == "smoke":
        return [("digits", 0, 3)]
    datasets = ("digits", "mnist") if profile_name == "full" else ("digits",)
    return [(ds, seed, 12) for ds in datasets for seed in (0, 1, 2)]


def save(rows: list[dict], out) -> None:
    from ... import kernels
    from ...harness.run import compact_machine
    from ...measure import ResultStore, machine_record, make_record

    machine = compact_machine(machine_record(), kernels.resolve_isa(None))
    store = ResultStore(out)
    recs = []
    for r in rows:
        seed = r.get("seed", 0)
        case = {"method": "merging", "scheme": r["scheme"], "sparsity": r["sparsity"], "dataset": r["dataset"],
                "seed": seed, "epochs": r.get("epochs"),
                "id": f"{r['dataset']}/merging/{r['scheme']}/s{r['sparsity']:g}/seed{seed}"}
        metrics = {k: v for k, v in r.items() if k not in case}
        metrics["threads"] = torch.get_num_threads()
        recs.append(make_record("accuracy", case, metrics, machine))
    store.extend(recs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="digits", choices=("digits", "mnist"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seeds", type=int, nargs="+", default=(0,))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared machines)")
    ap.add_argument("--out", default=None, help="sparsebench results file the records are appended to")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = load(a.dataset)
    print(f"{'scheme':28} {'seed':>4} {'removed':>7} {'accuracy':>8}")
    for seed in a.seeds:
        rows = run(a.dataset, a.epochs, seed=seed, data=data)
        for r in rows:
            print(f"{r['scheme']:28} {seed:4d} {r['sparsity']:7.2f} {r['accuracy']:8.3f}", flush=True)
        if a.out:  # each seed kept as it finishes
            save(rows, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
