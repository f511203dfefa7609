"""MEST in a training loop (the accuracy runs' training hook, Method.train_hooks): mutations at
the schedule's epochs, per layer; forgetting counts and the two-phase data-efficient run.
Counts of mutated weights and units per update and the mask_update time are logged in the run's
record (metrics["mest"])."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ...formats.modules import SparseConv2d, SparseLinear
from .forgetting import ForgettingCounter
from .init import stream_seed
from .mutate import mutate
from .schedule import Schedule
from .units import stored_units


@dataclass(frozen=True)
class DataEfficiency:
    phase1: float = 0.5  # fraction of the epochs before the least-forgotten examples are dropped
    drop: float | int = 0.25  # a fraction of the training set (or a count); the authors drop 12k of 50k

    def __post_init__(self):
        if not 0.0 < float(self.phase1) < 1.0:
            raise ValueError(f"phase1 must be in (0, 1), got {self.phase1!r}")


def sparse_layers(model) -> list:
    return [m for m in model.modules() if isinstance(m, (SparseConv2d, SparseLinear))]


def units_for_ratio(ratio: float, target_sparsity: float, target_units: int) -> int:
    """Units a ratio of r weight-sparsity points moves: r / density of the kept units."""
    density = 1.0 - target_sparsity
    return int(round(ratio / density * target_units)) if density > 0 else 0


class MestTrainer:
    """Hooks the accuracy loop calls: epoch_order, after_forward, end_epoch, stats."""

    def __init__(self, model, optimizer, schedule: Schedule, epochs: int, n_examples: int, *, seed: int = 0,
                 data: DataEfficiency | None = None, impl: str = "kernel", threads: int = 0):
        self.model, self.opt, self.schedule, self.epochs = model, optimizer, schedule, epochs
        self.seed, self.impl, self.threads, self.data = seed, impl, threads, data
        self.layers = sparse_layers(model)
        self.target = [(1.0 - l.sw.density, int(stored_units(l.sw).kept.numel())) for l in self.layers]
        self.updates = dict(schedule.updates(epochs))
        self.log: list[dict] = []
        self.mask_update_s = 0.0
        self.n_updates = 0
        self.forgetting = ForgettingCounter(n_examples) if data is not None else None
        self.phase1_epochs = max(1, int(round(data.phase1 * epochs))) if data is not None else None
        self.kept_examples: torch.Tensor | None = None
        self.examples_presented = 0

    # --- data efficiency -----------------------------------------------------------------------
    def epoch_order(self, epoch: int, order: torch.Tensor) -> torch.Tensor:
        if self.data is not None and epoch == self.phase1_epochs and self.kept_examples is None:
            self.kept_examples = self.forgetting.keep_after_dropping(self.data.drop)
        if self.kept_examples is not None:
            order = order[torch.isin(order, self.kept_examples)]
        self.examples_presented += int(order.numel())
        return order

    def after_forward(self, idx: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        if self.forgetting is not None and self.model.training:
            self.forgetting.update(idx, logits, y)

    # --- mutation ------------------------------------------------------------------------------
    def _mutate_all(self, epoch: int, ratio: float, final: bool = False) -> None:
        rec = {"epoch": epoch, "ratio": ratio, "pruned": 0, "grown": 0, "units_pruned": 0, "units_grown": 0,
               "layers": []}
        t0 = time.perf_counter()
        for i, (layer, (s, target_units)) in enumerate(zip(self.layers, self.target)):
            units = stored_units(layer.sw)
            kept, free = int(units.kept.numel()), units.n_units - int(units.kept.numel())
            m = 0 if final else units_for_ratio(ratio, s, target_units)
            if self.schedule.kind == "ems":  # prune back to the bound, then grow above it
                n_prune = max(kept - target_units, 0)
                n_grow = min(m, free + n_prune) if not final else 0
                n_grow = min(n_grow, free)  # grown among units not kept before this update
            else:
                n_prune = n_grow = min(m, free, kept)
            if n_prune == 0 and n_grow == 0:
                rec["layers"].append({"layer": i, "units_pruned": 0, "units_grown": 0})
                continue
            grad = layer.values.grad if self.schedule.lam > 0 else None
            out = mutate(layer, n_prune, n_grow, optimizer=self.opt, lam=self.schedule.lam, grad=grad,
                         seed=stream_seed(self.seed, i, 3, self.n_updates), impl=self.impl, threads=self.threads)
            for k in ("pruned", "grown", "units_pruned", "units_grown"):
                rec[k] += out[k]
            rec["layers"].append({"layer": i, "units_pruned": out["units_pruned"], "units_grown": out["units_grown"],
                                  "density": layer.sw.density})
        dt = time.perf_counter() - t0
        self.mask_update_s += dt
        rec["mask_update_s"] = dt
        self.n_updates += 1
        self.log.append(rec)

    def end_epoch(self, epoch: int) -> None:
        if epoch in self.updates:
            self._mutate_all(epoch, self.updates[epoch])
        if epoch == self.epochs - 1 and self.schedule.kind == "ems":
            if any(int(stored_units(l.sw).kept.numel()) > t for l, (_, t) in zip(self.layers, self.target)):
                self._mutate_all(epoch, 0.0, final=True)  # end at the memory bound

    def stats(self) -> dict:
        out = {"schedule": self.schedule.to_dict(), "updates": self.log, "mask_update_s": self.mask_update_s,
               "final_density": [l.sw.density for l in self.layers],
               "target_density": [1.0 - s for s, _ in self.target],
               "examples_presented": self.examples_presented}
        if self.forgetting is not None:
            out["data_efficiency"] = {"phase1_epochs": self.phase1_epochs, "drop": self.data.drop,
                                      "kept_examples": int(self.kept_examples.numel()) if self.kept_examples is not None
                                      else self.forgetting.n, **self.forgetting.summary()}
        return {"mest": out}
