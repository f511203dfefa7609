"""Accuracy vs learned structured sparsity: the accuracy CNN (sparsebench.accuracy) trained on
offline data with SSL at a sweep of lambdas, by the authors' subgradient or the proximal step.

    python -m sparsebench.methods.ssl.sweep --dataset digits --mode prox --lams 0 0.01 0.03 0.1

Per lambda: test accuracy, and per layer the row / column sparsity reached (exact zeros) and the
multiply-add fraction the compaction keeps; a JSON file with the rows when --out is given.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from ...accuracy.data import load
from ...accuracy.runs import DENSE, AccuracyCase, build_model
from .nn import apply_ssl, prox_step, structured_sparsity


def run(dataset: str, lam: float, mode: str, epochs: int, seed: int = 0, lr: float = 0.05, batch: int = 64,
        kinds=("rows", "cols")) -> dict:
    data = load(dataset)
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
    with torch.no_grad():
        acc = float((model(data.x_test).argmax(1) == data.y_test).double().mean())
    layers = structured_sparsity(model)
    return {"dataset": dataset, "lam": lam, "mode": mode, "epochs": epochs, "accuracy": acc,
            "layers": layers, "train_s": time.perf_counter() - t0, "kinds": list(kinds)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="digits", choices=("digits", "mnist"))
    ap.add_argument("--mode", default="prox", choices=("prox", "subgrad"))
    ap.add_argument("--lams", type=float, nargs="+", default=(0.0, 0.01, 0.03, 0.1))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    rows = []
    print(f"{'lambda':>8} {'acc':>6}  per layer: row sparsity / column sparsity / MACs kept")
    for lam in a.lams:
        r = run(a.dataset, lam, a.mode, a.epochs)
        rows.append(r)
        cells = "  ".join(f"{n}: {v['row_sparsity']:.2f}/{v['col_sparsity']:.2f}/{v['flop_fraction']:.2f}"
                          for n, v in r["layers"].items())
        print(f"{lam:8.3g} {r['accuracy']:6.3f}  {cells}", flush=True)
    if a.out:
        _write(a.out, rows)
    return 0


def _write(path: str, rows: list) -> None:
    import os
    import tempfile

    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(tmp, path)


if __name__ == "__main__":
    raise SystemExit(main())
