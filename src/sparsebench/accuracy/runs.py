"""Train a small CNN per (method, scheme, sparsity) with a fixed seed and budget; write
"accuracy" records (test accuracy, loss curve) that claims and reports read. Each method says
which runs it wants (Method.accuracy_cases) and converts the model (Method.apply, its training
hook); "dense" is the unconverted model."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from .data import Split, load


@dataclass(frozen=True)
class AccuracyCase:
    method: str  # a method package's name, or DENSE
    scheme: str  # the weight format, or the method's own variant name
    sparsity: float  # weight sparsity, or the pruning rate p
    dataset: str = "digits"
    epochs: int = 12
    seed: int = 0

    @property
    def id(self) -> str:
        return f"{self.dataset}/{self.method}/{self.scheme}/s{self.sparsity:g}" + (f"/seed{self.seed}" if self.seed else "")


def _cnn(conv: Callable[..., nn.Module], linear: Callable[..., nn.Module], image: int) -> nn.Module:
    # conv 1->16 (3x3) - relu - conv 16->32 (3x3, stride 2) - relu - linear -> 10
    side = (image + 1) // 2
    return nn.Sequential(conv(1, 16, 3, 1, 1), nn.ReLU(), conv(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                         linear(32 * side * side, 10))


DENSE = "dense"


def build_model(case: AccuracyCase, image: int) -> nn.Module:
    torch.manual_seed(case.seed)
    model = _cnn(nn.Conv2d, nn.Linear, image)
    if case.method == DENSE:
        return model
    from ..methods import get_method

    try:
        method = get_method(case.method)
    except KeyError as exc:
        raise ValueError(f"unknown accuracy method {case.method!r}: {exc}") from None
    return method.apply(model, case.scheme, case.sparsity, seed=case.seed)


def train(case: AccuracyCase, data: Split, batch: int = 64, lr: float = 0.05) -> dict:
    model = build_model(case, data.image_size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(case.seed)
    hooks = None
    if case.method != DENSE:  # the method's own training-loop hooks (mask changes, example subsets)
        from ..methods import get_method

        hooks = get_method(case.method).train_hooks(model, opt, case, len(data.y_train))
    losses = []
    t0 = time.perf_counter()
    for epoch in range(case.epochs):
        order = torch.randperm(len(data.y_train), generator=gen)
        if hooks is not None:
            order = hooks.epoch_order(epoch, order)
        total, count = 0.0, 0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            logits = model(data.x_train[idx])
            if hooks is not None:
                hooks.after_forward(idx, logits, data.y_train[idx])
            loss = F.cross_entropy(logits, data.y_train[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        losses.append(total / max(count, 1))
        if hooks is not None:
            hooks.end_epoch(epoch)
    train_s = time.perf_counter() - t0
    with torch.no_grad():
        pred = model(data.x_test).argmax(1)
    out = {"accuracy": float((pred == data.y_test).double().mean()), "loss_curve": losses,
           "final_loss": losses[-1], "train_s": train_s, "epochs": case.epochs}
    if case.method != DENSE:  # the method's own per-layer figures (e.g. density reached per layer)
        from ..methods import get_method

        stats = get_method(case.method).training_stats(model)
        if stats:
            out["layer_stats"] = stats
    if hooks is not None:
        out.update(hooks.stats())
    return out


def accuracy_cases(dataset: str = "digits", quick: bool = True) -> list[AccuracyCase]:
    """The accuracy grid: the dense model, then every method's own runs."""
    from ..methods import all_methods

    cases = [AccuracyCase(DENSE, DENSE, 0.0, dataset)]
    for method in all_methods().values():
        cases += [AccuracyCase(method.name, scheme, s, dataset) for scheme, s in method.accuracy_cases(dataset, quick)]
    return cases


def run_accuracy(cases: Iterable[AccuracyCase], out: Path,
                 progress: Callable[[int, int, AccuracyCase | None], None] | None = None) -> Path:
    """Train each case and append its record atomically (an interrupted run keeps what it has)."""
    from .. import kernels
    from ..harness.run import compact_machine
    from ..measure import ResultStore, machine_record, make_record

    cases = list(cases)
    machine = compact_machine(machine_record(), kernels.resolve_isa(None))
    store = ResultStore(out)
    data: dict[str, Split] = {}
    for i, case in enumerate(cases):
        if progress:
            progress(i, len(cases), case)
        if case.dataset not in data:
            data[case.dataset] = load(case.dataset)
        try:
            metrics = train(case, data[case.dataset])
        except Exception as exc:  # recorded, the sweep goes on
            store.append(make_record("error", {**asdict(case), "id": case.id}, {"error": f"{type(exc).__name__}: {exc}"},
                                     machine))
            continue
        store.append(make_record("accuracy", {**asdict(case), "id": case.id}, metrics, machine))
    if progress:
        progress(len(cases), len(cases), None)
    return Path(out)
