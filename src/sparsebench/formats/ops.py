"""The update stage of sparse-weight training (every scheme): SGD with momentum and weight decay
on the stored values only."""

from __future__ import annotations

import torch

from ..registry import Case, Comparison, Op, Paper, register
from .sgd import sgd_update, sgd_update_reference

PAPER = Paper(key="mest2021", title="MEST: Accurate and Fast Memory-Economic Sparse Training Framework on the Edge",
              venue="NeurIPS 2021", url="https://arxiv.org/abs/2110.14032")


def kernel(values, grad, momentum_buf, lr, momentum, weight_decay, *, isa=None, threads=0):
    w, buf = values.clone(), momentum_buf.clone()
    sgd_update(w, grad, buf, lr=lr, momentum=momentum, weight_decay=weight_decay, isa=isa, threads=threads)
    return w, buf


def cases():
    # empty, one, odd, and sizes crossing the kernel's 16384-element chunks; plain SGD, typical, extreme
    for n in (0, 1, 17, 40001, 70001):
        for lr, mom, wd in ((0.1, 0.0, 0.0), (0.05, 0.9, 5e-4), (1.0, 0.99, 1e-2)):
            def make(n=n, lr=lr, mom=mom, wd=wd):
                gen = torch.Generator().manual_seed(n)
                return {"values": torch.randn(n, generator=gen), "grad": torch.randn(n, generator=gen),
                        "momentum_buf": torch.randn(n, generator=gen), "lr": lr, "momentum": mom,
                        "weight_decay": wd}

            yield Case(f"n{n}-lr{lr}-m{mom}-wd{wd}", make)
    # all-zero values, gradient and momentum: the update must stay exactly zero
    yield Case("n17-all-zero", lambda: {"values": torch.zeros(17), "grad": torch.zeros(17), "momentum_buf": torch.zeros(17),
                                        "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4})


register(Op(method="update", name="sgd_momentum", paper=PAPER, reference=sgd_update_reference, kernel=kernel,
            cases=cases,
            compare=Comparison(rtol=4e-7, atol=1e-7, why="same elementwise float32 ops; torch may fuse a*b+c"),
            stages=("update",), doc="torch.optim.SGD on the stored values of any scheme"))
