"""Functions run on every rank by runners.distributed.run_ranks (tests and examples): the
TernGrad hook on a small DDP model with everything needed to recompute it in one process, and
failure modes (a rank that dies, hangs, or holds NaN)."""

from __future__ import annotations

import os
import time

import torch
from torch import nn

from . import comm


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(13, 33), nn.ReLU(), nn.Linear(33, 17), nn.ReLU(), nn.Linear(17, 5))


def _hook_run(rank: int, world: int, *, seed: int, mode: str, steps: int, nan: bool) -> dict:
    from torch.nn.parallel import DistributedDataParallel as DDP

    net = _model()
    names = {id(p): n for n, p in net.named_parameters()}
    model = DDP(net)
    state = comm.TernGradState.for_model(model, keep_float=[net[-1]], mode=mode, seed=seed)
    log = []

    def recording(st, bucket):
        views, params = comm._bucket_views(bucket)
        log.append({"names": [names[id(p)] for p in params], "before": [v.tolist() for v in views],
                    "keep": [id(p) in st.float_params for p in params]})
        fut = comm.terngrad_hook(st, bucket)
        log[-1]["after"] = [v.tolist() for v in comm._bucket_views(bucket)[0]]
        return fut

    model.register_comm_hook(state, recording)
    gen = torch.Generator().manual_seed(100 + rank)
    for _ in range(steps):
        x = torch.randn(8, 13, generator=gen)
        if nan and rank == world - 1:
            x[0, 0] = float("nan")
        model.zero_grad()
        model(x).square().mean().backward()
    return {"log": log, "bytes": state.stats.as_dict()}


def hook_rank(rank: int, world: int, *, seed: int = 11, modes=("max", "std"), steps: int = 2) -> dict:
    """Per scaler mode, ``steps`` DDP steps with the TernGrad hook (logits layer float): each hook
    call's parameter names and this rank's bucket gradients before and after the exchange. Then
    one step with NaN on the last rank: what each rank raised."""
    out = {mode: _hook_run(rank, world, seed=seed, mode=mode, steps=steps, nan=False) for mode in modes}
    try:
        _hook_run(rank, world, seed=seed, mode="max", steps=1, nan=True)
        out["nan"] = "no error"
    except FloatingPointError as exc:
        out["nan"] = f"FloatingPointError: {exc}"
    return out


def dies_in_exchange(rank: int, world: int) -> None:
    """The last rank exits before the exchange; the others wait in it."""
    if rank == world - 1:
        os._exit(7)
    comm.exchange([torch.ones(1000)], [False], comm.TernGradState())


def hangs_in_exchange(rank: int, world: int, *, sleep_s: float = 600.0) -> None:
    """The last rank hangs (sleeps) instead of joining the exchange."""
    if rank == world - 1:
        time.sleep(sleep_s)
    comm.exchange([torch.ones(1000)], [False], comm.TernGradState())
