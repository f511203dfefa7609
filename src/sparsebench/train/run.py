"""One whole-network training run: the dense model and its method twin from the same
initialisation, N steps each timed interleaved in one process, then the profiled breakdown, the
per-layer facts, peak memory in fresh processes, and under torch.distributed (torchrun, or
sparsebench.runners.distributed) DistributedDataParallel with the communication share."""

from __future__ import annotations

import copy
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..profiling import stage_range
from . import breakdown
from .convert import convert, leaf_layers, resolve_method

LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4
POOL = 8  # distinct batches cycled through (prepared before timing)


@dataclass
class TrainConfig:
    model: str
    method: str  # a method name or one of its train_schemes
    scheme: str | None = None
    sparsity: float = 0.9  # weight sparsity, or the method's rate (Method.rate_label)
    steps: int = 10
    threads: int = 1
    data: str = "digits"  # "digits", "mnist" or "synthetic"
    batch: int | None = None  # default: the catalogue's
    seed: int = 0
    warmup: int = 2
    profile_steps: int = 2
    mask_update_every: int = 0  # a mask change every K steps (0: none)
    input_shape: tuple[int, int, int] | None = None  # one sample's C,H,W: required for a user model
    memory: bool = True  # peak memory of one step in fresh child processes
    plot_dir: str | None = None  # where the stacked bar plot goes (None: no plot)

    def to_dict(self) -> dict:
        return asdict(self)


def network_of(cfg: TrainConfig):
    """The model's catalogue entry (input shape, batch, classes): zoo or user factory."""
    from .. import models

    return models.network(cfg.model, cfg.input_shape)


# --- data ------------------------------------------------------------------------------------


def batches(cfg: TrainConfig, rank: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Up to POOL batches of the model's input shape: bundled real digits (or MNIST-5k) resized
    and repeated over channels, or Gaussian noise with random labels (synthetic). Each rank of a
    data-parallel run takes its own slice."""
    net = network_of(cfg)
    c, h, w = net.input
    bs = cfg.batch or net.batch
    n = min(POOL, max(cfg.steps, 1))
    gen = torch.Generator().manual_seed(cfg.seed + 1000 * rank)
    if cfg.data == "synthetic":
        return [(torch.randn(bs, c, h, w, generator=gen), torch.randint(0, net.classes, (bs,), generator=gen))
                for _ in range(n)]
    from ..accuracy.data import load

    split = load(cfg.data)
    x_all, y_all = split.x_train, split.y_train % net.classes
    out = []
    for _ in range(n):
        idx = torch.randint(0, len(y_all), (bs,), generator=gen)
        x = F.interpolate(x_all[idx], size=(h, w), mode="bilinear", align_corners=False)
        out.append((x.expand(bs, c, h, w).contiguous(), y_all[idx].contiguous()))
    return out


# --- the step ----------------------------------------------------------------------------------


class Trainer:
    """A model, its optimizer and its step; ``method`` None: the dense model."""

    def __init__(self, model: nn.Module, data, method=None, mask_every: int = 0, seed: int = 0) -> None:
        self.model, self.data, self.method, self.mask_every = model, data, method, mask_every
        self.opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        self.i = 0
        self.gen = torch.Generator().manual_seed(seed + 99)
        self.loss = float("nan")
        self.mask_changes = 0

    def step(self, book=None, sync: bool = True) -> None:
        x, y = self.data[self.i % len(self.data)]
        self.i += 1
        with stage_range("step"):
            self.opt.zero_grad(set_to_none=True)
            ctx = self.model.no_sync() if (not sync and hasattr(self.model, "no_sync")) else _null()
            with ctx:
                loss = F.cross_entropy(self.model(x), y)
                loss.backward()
            if book is not None:
                book.close_all()
            with stage_range("update"):
                self.opt.step()
            if self.method is not None and self.mask_every and self.i % self.mask_every == 0:
                with stage_range("mask_update"):
                    self.mask_changes += self.method.mask_update(_inner(self.model), self.opt, self.gen)
        self.loss = float(loss.detach())


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _inner(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


def _timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _progress(i: int, n: int, times: dict, tty: bool) -> None:
    last = "  ".join(f"{k} {v[-1] * 1e3:.1f} ms" for k, v in times.items() if v)
    if tty:
        width = 24
        done = int(width * i / max(n, 1))
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] step {i}/{n}  {last:<60}")
        if i == n:
            sys.stderr.write("\n")
    else:
        sys.stderr.write(f"step {i}/{n}  {last}\n")
    sys.stderr.flush()


def timing_dict(samples: list[float]) -> dict:
    from ..measure import Timing

    return Timing.from_samples(samples, 1).to_dict()


# --- a run ------------------------------------------------------------------------------------------


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def build_pair(cfg: TrainConfig):
    """(dense model, method model, Method, scheme, layer infos) from one initialisation."""
    from .. import models

    method, scheme = resolve_method(cfg.method, cfg.scheme)
    dense = models.build(cfg.model, cfg.seed)
    sparse = copy.deepcopy(dense)
    infos = convert(sparse, method, scheme, cfg.sparsity, seed=cfg.seed, threads=cfg.threads)
    return dense, sparse, method, scheme, infos


def train(cfg: TrainConfig, *, progress: bool = True) -> dict:
    """Run ``cfg``; the record's case and metrics (not yet a record: cli writes it). Under an
    initialised torch.distributed group every rank runs it; rank 0's dict carries all ranks'."""
    net = network_of(cfg)  # raises for an unknown model or a user model's bad input shape
    if cfg.steps < 1:
        raise ValueError(f"steps must be >= 1, got {cfg.steps}")
    torch.set_num_threads(cfg.threads)
    dist = _dist()
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist else (0, 1)
    dense, sparse, method, scheme, infos = build_pair(cfg)
    data = batches(cfg, rank)
    if dist:
        from torch.nn.parallel import DistributedDataParallel as DDP

        dense, sparse = DDP(dense), DDP(sparse)  # parameters broadcast from rank 0; masks are seeded
    tr = {"dense": Trainer(dense, data, seed=cfg.seed),
          "method": Trainer(sparse, data, method, cfg.mask_update_every, cfg.seed)}
    fns: dict[str, Callable[[], None]] = {k: t.step for k, t in tr.items()}
    if dist:  # the same step without the gradient all-reduce: the exposed communication
        fns.update({f"{k}-nosync": (lambda t=t: t.step(sync=False)) for k, t in tr.items()})
    for _ in range(cfg.warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    tty = sys.stderr.isatty()
    names = list(fns)
    for r in range(cfg.steps):
        shift = r % len(names)
        for k in names[shift:] + names[:shift]:
            if dist:
                dist.barrier()
            times[k].append(_timed(fns[k]))
        if progress and rank == 0:
            _progress(r + 1, cfg.steps, {k: times[k] for k in ("dense", "method")}, tty)
    timing = {k: timing_dict(v) for k, v in times.items()}
    speedup = timing["dense"]["median_s"] / timing["method"]["median_s"]
    # breakdown (profiled, after timing so it cannot disturb it)
    names_layers = [n for n, _ in leaf_layers(_inner(dense))]
    bdown = {}
    for k, t in tr.items():
        bdown[k] = breakdown.profile_steps(_inner(t.model), names_layers, t.step, cfg.profile_steps)
        if dist:
            comm = timing[k]["median_s"] - timing[f"{k}-nosync"]["median_s"]
            bdown[k]["step"]["communication"] = max(comm, 0.0)
    facts = {}
    for name, mod in _inner(sparse).named_modules():
        f = method.layer_facts(mod)
        if f:
            facts[name] = f
    layers = []
    for info in infos:
        d = info.to_dict()
        d.update(facts.get(info.name, {}))
        layers.append(d)
    metrics = {
        "dense": timing["dense"], "method": timing["method"], "speedup": speedup,
        "breakdown": bdown, "layers": layers, "rate_label": method.rate_label,
        "converted": sum(i.converted for i in infos), "dense_layers": sum(not i.converted for i in infos),
        "loss": {k: t.loss for k, t in tr.items()}, "mask_changes": tr["method"].mask_changes,
        "samples_per_s": {k: world * len(data[0][1]) / timing[k]["median_s"] for k in ("dense", "method")},
    }
    if dist:
        metrics["communication_share"] = {k: bdown[k]["step"]["communication"] / timing[k]["median_s"]
                                          for k in ("dense", "method")}
        gathered = [None] * world
        dist.all_gather_object(gathered, {"rank": rank, "dense": timing["dense"]["median_s"],
                                          "method": timing["method"]["median_s"],
                                          "digests": {n: f.get("mask_digest") for n, f in facts.items()}})
        metrics["ranks"] = gathered
        metrics["masks_identical"] = all(g["digests"] == gathered[0]["digests"] for g in gathered)
    if cfg.memory and rank == 0:
        from .memory import peak_memory

        metrics["memory"] = {k: peak_memory(cfg, k) for k in ("dense", "method")}
    case = {"model": cfg.model, "method": method.name, "scheme": scheme, "sparsity": cfg.sparsity,
            "threads": cfg.threads, "steps": cfg.steps, "data": cfg.data, "batch": cfg.batch or net.batch,
            "world_size": world, "mask_update_every": cfg.mask_update_every,
            "id": f"train/{cfg.model}/{method.name}/{scheme}/s{cfg.sparsity:g}/t{cfg.threads}/w{world}"}
    if cfg.input_shape is not None:  # a user model: its input is part of what was measured
        case["input_shape"] = list(net.input)
    return {"case": case, "metrics": metrics, "infos": infos}


def rank_main(rank: int, world: int, **kw) -> dict:
    """A data-parallel run on one rank of sparsebench.runners.distributed.run_ranks (gloo)."""
    cfg = TrainConfig(**{"memory": False, **kw})
    res = train(cfg, progress=False)
    return {"case": res["case"], "metrics": res["metrics"]}


def env_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))
