"""SSL cross-validation ops: the readable reference (reference.py, torch.linalg norms applied
group by group) vs the fused C++ kernels (kernels.py) on random and adversarial weights: odd
sizes, linear and conv, all-zero groups, lambda 0, huge lambda (every group removed), empty weights."""

from __future__ import annotations

import torch

from ...registry import Case, Comparison, Op, Paper, register
from . import kernels, reference

PAPER = Paper(key="wen2016", title="Learning Structured Sparsity in Deep Neural Networks", venue="NIPS 2016",
              url="https://arxiv.org/abs/1608.03665")

_SHAPES = {
    "lin1x1": (1, 1),
    "lin3x600": (3, 600),
    "conv17x9x5x5": (17, 9, 5, 5),
    "conv6x3x11x11": (6, 3, 11, 11),
    "conv64x33x3x3": (64, 33, 3, 3),
}
_ADVERSARIAL = ("lin3x600", "conv17x9x5x5", "conv64x33x3x3")  # zeros, zero groups, tiny values
_EMPTY = {"conv0x9x3x3": (0, 9, 3, 3), "conv5x3x0x0": (5, 3, 0, 0)}  # no filters; 0 x 0 kernels
_LAMS = {
    "lam0": dict(),
    "rows": dict(lam_rows=0.3),
    "cols": dict(lam_cols=0.2),
    "chans": dict(lam_chans=0.4),
    "depth": dict(lam_depth=0.5),
    "all": dict(lam_rows=0.1, lam_cols=0.1, lam_chans=0.1, lam_depth=0.1),
    "huge": dict(lam_rows=1e6),
}


def _weight(shape, kind: str, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=gen) * 0.5
    if kind == "zeros":
        return torch.zeros(shape)
    if kind == "zero-groups":  # whole zero rows, columns and (for conv) a zero channel
        w[::3] = 0.0
        v = w.reshape(shape[0], -1)
        v[:, 1::4] = 0.0
        if len(shape) == 4 and shape[1] > 1:
            w[:, 1] = 0.0
    if kind == "tiny":  # around the 1e-4 zeroing threshold, but never within float error of it
        w = torch.where(w.abs() < 0.25, torch.full_like(w, 5e-5) * torch.sign(w), w)
    return w


def _cases(with_lr: bool):
    for sname, shape in _SHAPES.items():
        for kind in ("normal", "zeros", "zero-groups", "tiny"):
            for lname, lams in _LAMS.items():
                if kind != "normal" and (lname != "all" or sname not in _ADVERSARIAL):
                    continue

                def make(shape=shape, kind=kind, lams=lams):
                    d = {"w": _weight(shape, kind, 3), **lams}
                    if with_lr:
                        d["lr"] = 0.1
                    return d

                yield Case(f"{sname}-{kind}-{lname}", make)
    for sname, shape in _EMPTY.items():  # every kind at once on a weight with nothing in it

        def make(shape=shape):
            d = {"w": torch.zeros(shape), **_LAMS["all"]}
            if with_lr:
                d["lr"] = 0.1
            return d

        yield Case(f"{sname}-empty-all", make)


def prox_cases():
    yield from _cases(True)


def subgrad_cases():
    yield from _cases(False)


def norm_cases():
    for sname, shape in _SHAPES.items():
        for kind in ("normal", "zero-groups") if sname in _ADVERSARIAL else ("normal",):
            for k in reference.KINDS:
                yield Case(f"{sname}-{kind}-{k}", lambda shape=shape, kind=kind, k=k: {"w": _weight(shape, kind, 5),
                                                                                      "kind": k})
    for k in reference.KINDS:  # an all-zero weight (every norm 0) and empty weights
        yield Case(f"conv17x9x5x5-zeros-{k}", lambda k=k: {"w": torch.zeros(_SHAPES["conv17x9x5x5"]), "kind": k})
        for sname, shape in _EMPTY.items():
            yield Case(f"{sname}-empty-{k}", lambda shape=shape, k=k: {"w": torch.zeros(shape), "kind": k})


def _tol(why: str) -> Comparison:
    # norms are float32 sums of up to ~2,000 squares in another order (SIMD lanes, FMA), then scales
    return Comparison(rtol=2e-5, atol=1e-6, why=why)


register(Op(method="ssl", name="prox", paper=PAPER, reference=reference.prox, kernel=kernels.prox,
            cases=prox_cases, compare=_tol("group norms reordered (SIMD lanes, FMA); same scale formula and order"),
            stages=("update",), doc="w_g <- max(0, 1 - lr*lambda/||w_g||) w_g for rows, columns, channels, depth; "
                                    "then |w| < 1e-4 -> 0"))
register(Op(method="ssl", name="subgrad", paper=PAPER, reference=reference.subgrad, kernel=kernels.subgrad,
            cases=subgrad_cases, compare=_tol("group norms reordered (SIMD lanes, FMA)"),
            stages=("update",), doc="sum over kinds lambda * w / ||w_g|| (the authors' gradient term)"))
register(Op(method="ssl", name="group_norms", paper=PAPER, reference=reference.group_norms,
            kernel=kernels.group_norms, cases=norm_cases, compare=_tol("float32 sums of squares reordered"),
            stages=("update",), doc="L2 norms of rows, columns, channels or the whole lowered weight"))


def _gather_cases():
    geoms = {  # (N, C, H, W, k, stride, pad)
        "1x1x1x1-k1": (1, 1, 1, 1, 1, 1, 0),
        "2x3x7x9-k3p1": (2, 3, 7, 9, 3, 1, 1),
        "2x3x13x13-k5s2p2": (2, 3, 13, 13, 5, 2, 2),
        "1x3x31x31-k11s4p2": (1, 3, 31, 31, 11, 4, 2),
        "2x2x3x3-k5p3": (2, 2, 3, 3, 5, 1, 3),  # kernel wider than the input
    }
    for gname, (n, c, h, w, k, s, p) in geoms.items():
        for sel in ("all", "odd", "one", "none") + (("zeros-x",) if gname == "2x3x7x9-k3p1" else ()):
            def make(n=n, c=c, h=h, w=w, k=k, s=s, p=p, sel=sel):
                gen = torch.Generator().manual_seed(11)
                K = c * k * k
                cols = {"all": torch.arange(K), "odd": torch.arange(1, K, 2), "one": torch.tensor([K - 1]),
                        "none": torch.zeros(0, dtype=torch.int64), "zeros-x": torch.arange(0, K, 2)}[sel].to(torch.int32)
                x = torch.zeros(n, c, h, w) if sel == "zeros-x" else torch.randn(n, c, h, w, generator=gen)
                return {"x": x, "cols": cols, "kh": k, "kw": k, "stride": s, "padding": p}

            yield Case(f"{gname}-{sel}", make)


register(Op(method="ssl", name="gather_cols", paper=PAPER, reference=reference.gather_cols,
            kernel=kernels.gather_cols, cases=_gather_cases, compare=Comparison(exact=True, why="a copy"),
            stages=("forward",), doc="im2col rows of the kept lowered-weight columns (torch unfold, selected)"))
