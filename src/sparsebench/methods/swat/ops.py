"""SWAT cross-validation ops: the sort-based reference (reference.py) vs the kernels (kernels.py)
on every ISA variant: exact top-K selection (sampled bracket and radix), the top-K mask and its
compression, the channel (kernel L1 norm) top-K, and the weight gradients from the sparse stored
activation vs torch's conv2d_weight / dy^T @ X on the densified sparse input."""

from __future__ import annotations

import torch

from ...oracle import Comparison
from ...registry import Case, Op, Paper, register
from . import kernels as sk
from . import reference as ref
from .nn import build_topk_weight

PAPER = Paper(key="raihan2020", title="Sparse Weight Activation Training", venue="NeurIPS 2020",
              url="https://arxiv.org/abs/2001.01969")

_SHAPES = {"one": (1,), "odd17": (17,), "block+1": (4097,), "odd3x5x7x9": (3, 5, 7, 9),
           "sampled66000": (66000,)}  # >= 2^16: the sampled bracket runs (method "sample")


def _values(kind: str, shape, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(shape, generator=g)
    if kind == "zeros":
        return torch.zeros(shape)
    if kind == "ties":  # few distinct magnitudes, both signs: most of the k-th value's class is cut
        return (torch.randint(0, 4, shape, generator=g) - 2).float() * 0.5
    if kind == "signed-zeros-inf":
        x = torch.randn(shape, generator=g)
        x.view(-1)[::3] = 0.0
        x.view(-1)[1::5] = -0.0
        x.view(-1)[2::97] = float("inf")
        x.view(-1)[3::89] = float("-inf")
        return x
    if kind == "denormal":
        return torch.randn(shape, generator=g) * 1e-40
    raise ValueError(kind)


def select_cases():
    for sname, shape in _SHAPES.items():
        n = 1
        for v in shape:
            n *= v
        kinds = ("normal", "zeros", "ties", "signed-zeros-inf", "denormal") if n > 1000 else ("normal", "ties")
        for kind in kinds:
            if sname == "one" and kind != "normal":
                continue
            for k in sorted({1, max(1, n // 10), n}):
                yield Case(f"{sname}-{kind}-k{k}", lambda shape=shape, kind=kind, k=k: {"x": _values(kind, shape, 1),
                                                                                          "k": k})


def _select_ref(x, k):
    return ref.kth_largest_abs(x, k)


def _select_kernel(method):
    def run(x, k, *, isa=None, threads=0):
        s = sk.select(x, k, method=method, isa=isa, threads=threads)
        return s.threshold, s.n_gt, s.n_eq

    return run


_NO_KTH = ("an empty x has no k-th largest |x|: select() takes k in [1, numel], else ValueError (that range "
           "is tested at k = 0 and numel + 1 in tests/test_swat.py::test_bad_input_is_a_clear_error)")

for _method in ("sample", "radix"):
    register(Op(method="swat", name=f"select_{_method}", paper=PAPER, reference=_select_ref,
                kernel=_select_kernel(_method), cases=select_cases,
                compare=Comparison(exact=True, why="a selection: exact integer counts and one of the inputs' values"),
                stages=("mask_update", "front_end"), extra={"exempt": {"empty": _NO_KTH}},
                doc="k-th largest |x| and the counts above / equal to it (sort-based reference)"))


def mask_cases():
    for c in select_cases():
        yield c
    yield Case("k0-normal", lambda: {"x": _values("normal", (33,), 2), "k": 0})
    yield Case("empty3x0x5-k0", lambda: {"x": torch.zeros(3, 0, 5), "k": 0})


def _mask_kernel(x, k, *, isa=None, threads=0):
    return sk.topk_mask(x, k, isa=isa, threads=threads)


register(Op(method="swat", name="topk_mask", paper=PAPER, reference=ref.topk_mask, kernel=_mask_kernel,
            cases=mask_cases, compare=Comparison(exact=True, why="a boolean selection (ties by lowest index)"),
            stages=("mask_update", "front_end"),
            doc="exactly k kept: |x| > T, then ties at T by lowest flat index (stable descending sort)"))


def compress_cases():
    for cols, shape in ((7, (5, 7)), (64, (3, 64)), (9, (4, 5, 3, 3)), (1000, (2500,))):
        for kind in ("normal", "ties", "zeros"):
            n = 1
            for v in shape:
                n *= v
            for k in sorted({1, max(1, n // 10), n}):
                yield Case(f"{'x'.join(map(str, shape))}-c{cols}-{kind}-k{k}",
                           lambda shape=shape, kind=kind, k=k, cols=cols: {"x": _values(kind, shape, 3), "k": k,
                                                                           "cols": cols})


def _compress_ref(x, k, cols):
    return ref.compress(x, ref.topk_mask(x, k), cols)


def _compress_kernel(x, k, cols, *, isa=None, threads=0):
    return sk.topk_compress(x, k, cols, isa=isa, threads=threads)[1]


register(Op(method="swat", name="topk_compress", paper=PAPER, reference=_compress_ref, kernel=_compress_kernel,
            cases=compress_cases, compare=Comparison(exact=True, why="a selection and a copy of the kept values"),
            stages=("mask_update", "front_end"), doc="TopK(|x|) as row CSR (rowptr, col, vals)",
            extra={"exempt": {"empty": "topk_compress selects first: " + _NO_KTH}}))


def channel_cases():
    for shape in ((4, 3, 3, 3), (16, 8, 3, 3), (5, 7, 1, 1), (6, 2, 5, 5)):
        for kind in ("normal", "ties"):
            for s in (0.0, 0.5, 0.9):
                yield Case(f"{'x'.join(map(str, shape))}-{kind}-s{s}",
                           lambda shape=shape, kind=kind, s=s: {"w": _values(kind, shape, 4), "sparsity": s})
    # all-zero weight (every kernel norm ties at 0: lowest (out, in) first); sparsity 1 keeps one kernel
    for shape, kind, s in (((6, 2, 5, 5), "zeros", 0.5), ((16, 8, 3, 3), "normal", 1.0)):
        yield Case(f"{'x'.join(map(str, shape))}-{kind}-s{s}",
                   lambda shape=shape, kind=kind, s=s: {"w": _values(kind, shape, 4), "sparsity": s})


def _channel_ref(w, sparsity):
    return ref.channel_topk_mask(w, ref.keep_count(w.shape[0] * w.shape[1], sparsity))


def _channel_kernel(w, sparsity, *, isa=None, threads=0):
    return build_topk_weight(w, sparsity, "channel", threads=threads)[0].mask()


register(Op(method="swat", name="channel_topk_mask", paper=PAPER, reference=_channel_ref, kernel=_channel_kernel,
            cases=channel_cases, compare=Comparison(exact=True, why="a selection over the kernel L1 norms"),
            stages=("mask_update",), doc="top-K of the per-(out, in) kernel L1 norms, whole kernels kept",
            extra={"exempt": {"empty": "a weight with no kernels (Cout or Cin 0) has no top-K: build_topk_weight "
                                       "selects k in [1, Cout * Cin] kernels with topk_compress, where " + _NO_KTH}}))


# --- weight gradients from the sparse stored activation -------------------------------------

def _conv_cases():
    geoms = {"3x3s1p1": ((2, 3, 7, 5), 4, 3, 1, 1), "3x3s2p1": ((2, 5, 9, 8), 6, 3, 2, 1),
             "1x1s1p0": ((3, 8, 4, 4), 5, 1, 1, 0), "5x5s1p2": ((1, 2, 6, 6), 3, 5, 1, 2),
             "empty-batch": ((0, 3, 5, 5), 4, 3, 1, 1), "wide17": ((2, 4, 6, 6), 17, 3, 1, 1)}
    for gname, (xs, cout, k, st, pd) in geoms.items():
        ho = (xs[2] + 2 * pd - k) // st + 1
        wo = (xs[3] + 2 * pd - k) // st + 1
        length = xs[0] * ho * wo
        for kind in ("normal", "zeros"):
            for s in (0.0, 0.9, 1.0):
                def make(xs=xs, cout=cout, k=k, st=st, pd=pd, ho=ho, wo=wo, kind=kind, s=s):
                    g = torch.Generator().manual_seed(5)
                    x = _values(kind, xs, 6)
                    dy = torch.randn((xs[0], cout, ho, wo), generator=g)
                    return {"x": x, "dy": dy, "kernel_hw": (k, k), "stride": st, "padding": pd, "sparsity": s}

                yield Case(f"{gname}-{kind}-s{s}", make,
                           compare=Comparison.float32_reduction(max(length, 1), scale=4.0,
                                                                why="float32 sums over N*Ho*Wo, reordered"))


def _sparse_ref_input(x, sparsity):
    k = 0 if sparsity >= 1.0 else ref.keep_count(x.numel(), sparsity)
    return x * ref.topk_mask(x, k)


def _conv_wgrad_ref(x, dy, kernel_hw, stride, padding, sparsity):
    w_shape = (dy.shape[1], x.shape[1], *kernel_hw)
    return ref.conv_weight_grad(_sparse_ref_input(x, sparsity), dy, w_shape, stride, padding)


def _stored(x, sparsity, isa, threads):
    if sparsity >= 1.0:  # nothing kept: every |x| below an infinite threshold
        return sk.compress_activation(x, 0.0, threshold=float("inf"), isa=isa, threads=threads)
    return sk.compress_activation(x, sparsity, isa=isa, threads=threads)


def _conv_wgrad_kernel(x, dy, kernel_hw, stride, padding, sparsity, *, isa=None, threads=0):
    return sk.conv2d_weight_grad(_stored(x, sparsity, isa, threads), dy, kernel_hw, stride, padding, isa=isa,
                                 threads=threads)


register(Op(method="swat", name="conv2d_weight_grad", paper=PAPER, reference=_conv_wgrad_ref,
            kernel=_conv_wgrad_kernel, cases=_conv_cases, compare=Comparison.float32_reduction(64),
            stages=("weight_grad",),
            doc="dW = conv2d_weight(TopK(x), dy) from the compressed stored input and dense dy"))


def _linear_cases():
    for name, (b, i, o) in {"odd5x7x3": (5, 7, 3), "32x64x40": (32, 64, 40), "empty-batch": (0, 6, 4),
                            "1x1x1": (1, 1, 1)}.items():
        for kind in ("normal", "zeros"):
            for s in (0.0, 0.9, 1.0):
                def make(b=b, i=i, o=o, kind=kind, s=s):
                    g = torch.Generator().manual_seed(7)
                    return {"x": _values(kind, (b, i), 8), "dy": torch.randn((b, o), generator=g), "sparsity": s}

                yield Case(f"{name}-{kind}-s{s}", make, compare=Comparison.float32_reduction(max(b, 1), scale=4.0))


def _linear_wgrad_ref(x, dy, sparsity):
    return ref.linear_weight_grad(_sparse_ref_input(x, sparsity), dy)


def _linear_wgrad_kernel(x, dy, sparsity, *, isa=None, threads=0):
    return sk.linear_weight_grad(_stored(x, sparsity, isa, threads), dy, isa=isa, threads=threads)


register(Op(method="swat", name="linear_weight_grad", paper=PAPER, reference=_linear_wgrad_ref,
            kernel=_linear_wgrad_kernel, cases=_linear_cases, compare=Comparison.float32_reduction(64),
            stages=("weight_grad",), doc="dW = dy^T @ TopK(x) from the compressed stored input"))
