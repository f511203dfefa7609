"""TernGrad (Wen et al., NIPS 2017): cross-validation ops, reference (reference.py) vs kernels
(kernels.py): the per-layer scaler, the fused ternarize + pack pass, and the decode (unpack x
scale, summed over ranks, optionally accumulated). Formulas: see reference.py."""

from __future__ import annotations

import numpy as np
import torch

from ...registry import Case, Comparison, Op, Paper, register
from . import kernels
from . import reference as ref

PAPER = Paper(
    key="wen2017",
    title="TernGrad: Ternary Gradients to Reduce Communication in Distributed Deep Learning",
    venue="NIPS 2017",
    url="https://arxiv.org/abs/1705.07878",
)

# odd sizes, n not a multiple of 4 / 16, block and chunk edges (4096, 1 << 15), empty
_SHAPES = {
    "empty": (0,),
    "one": (1,),
    "three": (3,),
    "odd17": (17,),
    "n4k+2": (4 * 37 + 2,),
    "block-1": (4095,),
    "block+1": (4097,),
    "conv3x5x7x9": (3, 5, 7, 9),
    "linear64x129": (64, 129),
    "chunk+5": ((1 << 15) + 5,),
    "chunks70001": (70001,),
}


def _values(kind: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(shape, generator=gen) * 1e-3
    if kind == "zeros":
        return torch.zeros(shape)
    if kind == "laplace":  # heavy tails: clipping at c * std acts
        u = torch.rand(shape, generator=gen) - 0.5
        return -torch.sign(u) * torch.log1p(-2 * u.abs())
    if kind == "signed-zeros":
        g = torch.randn(shape, generator=gen)
        g.view(-1)[::3] = 0.0
        g.view(-1)[1::5] = -0.0
        return g
    if kind == "constant":  # std 0: the scaler falls back to max|g|
        return torch.full(shape, 0.375)
    raise ValueError(kind)


KINDS = ("normal", "zeros", "laplace", "signed-zeros", "constant")


# every kind on the small odd shapes; the block / chunk edges on normal and laplace values
_EDGE_SHAPES = ("block-1", "block+1", "chunk+5", "chunks70001")


def _grid():
    for sname, shape in _SHAPES.items():
        for kind in KINDS:
            if sname == "empty" and kind != "normal":
                continue
            if sname in _EDGE_SHAPES and kind != ("laplace" if sname == "chunks70001" else "normal"):
                continue
            yield f"{sname}-{kind}", shape, kind


def scaler_cases():
    for cid, shape, kind in _grid():
        for mode in ref.MODES:
            yield Case(f"{cid}-{mode}", lambda shape=shape, kind=kind, mode=mode:
                       {"g": _values(kind, shape, 1), "mode": mode, "c": 2.5})


def pack_cases():
    for cid, shape, kind in _grid():
        # the scaler of either mode; 0 (nothing fires); a tiny one (everything fires / clipped)
        for sname in (("max", "std", "zero", "tiny") if shape[0] < 4000 or kind == "normal" else ("max", "std")):
            def make(shape=shape, kind=kind, sname=sname):
                g = _values(kind, shape, 2)
                s = {"zero": 0.0, "tiny": 1e-30}.get(sname)
                return {"g": g, "s": ref.scaler(g, sname) if s is None else s, "seed": 777}

            yield Case(f"{cid}-s{sname}", make)
    yield Case("seed-2^64-1", lambda: {"g": _values("normal", (999,), 3), "s": 2e-3, "seed": 2**64 - 1})


def _packed(rows: int, n: int, extra: int, seed: int) -> torch.Tensor:
    """Random valid codes (0, 1, 2) in ``rows`` rows of ``extra`` + packed-size bytes."""
    gen = torch.Generator().manual_seed(seed)
    nb = (n + 3) // 4 + extra
    t = torch.randint(-1, 2, (rows, nb * 4), generator=gen, dtype=torch.int32)
    return torch.stack([ref.pack(r) for r in t])


def decode_cases():
    # one row (set, accumulate), two and four ranks; a byte offset into each row
    for sname, shape in _SHAPES.items():
        n = int(np.prod(shape))
        for rows, acc, offset in ((1, False, 0), (1, True, 3), (2, True, 0), (4, False, 3)):
            def make(n=n, rows=rows, acc=acc, offset=offset):
                packed = _packed(rows, n, offset + 2, 5 + rows)
                out = torch.randn(n, generator=torch.Generator().manual_seed(9)) if acc else None
                return {"packed": packed if rows > 1 else packed[0].contiguous(), "n": n,
                        "scale": 0.3125 / rows, "offset": offset, "out": out, "accumulate": acc}

            yield Case(f"{sname}-r{rows}-{'acc' if acc else 'set'}-off{offset}", make)
    # an all-zero gradient's codes (every code 0) accumulated into an all-zero out
    def zeros(n=17, rows=2):
        packed = torch.stack([ref.pack(torch.zeros(((n + 3) // 4 + 2) * 4, dtype=torch.int32)) for _ in range(rows)])
        return {"packed": packed, "n": n, "scale": 0.3125 / rows, "offset": 1, "out": torch.zeros(n),
                "accumulate": True}

    yield Case("odd17-r2-acc-off1-zeros", zeros)


def _scaler_kernel(g, mode, c, *, isa=None, threads=0):
    return kernels.scaler(g, mode, c, isa=isa, threads=threads)


def _decode_kernel(packed, n, scale, offset, out, accumulate, *, isa=None, threads=0):
    # the kernel writes into out: give it a copy so the reference sees the original
    o = out.clone() if out is not None else None
    return kernels.decode(packed, n, scale, offset=offset, out=o, accumulate=accumulate, isa=isa, threads=threads)


def _decode_reference(packed, n, scale, offset, out, accumulate):
    return ref.decode(packed, n, scale, offset=offset, out=out, accumulate=accumulate)


register(Op(
    method="terngrad", name="scaler", paper=PAPER, reference=ref.scaler, kernel=_scaler_kernel,
    cases=scaler_cases, compare=Comparison(exact=True, why="fixed-order float64 sums, same operation order"),
    stages=("encode",), doc="s = max|g| or min(c * std(g), max|g|), c = 2.5",
))
register(Op(
    method="terngrad", name="ternarize_pack", paper=PAPER, reference=ref.ternarize_pack,
    kernel=kernels.ternarize_pack, cases=pack_cases,
    compare=Comparison(exact=True, why="counter-based RNG, elementwise float32 ops without contraction; exact bytes"),
    stages=("encode",), stochastic=True,
    doc="stochastic ternarization sign(g) * [|g| > u * s] fused with 2-bit packing (4 codes a byte)",
))
register(Op(
    method="terngrad", name="decode", paper=PAPER, reference=_decode_reference, kernel=_decode_kernel,
    cases=decode_cases, compare=Comparison(exact=True, why="integer code sums, one float32 multiply (and add)"),
    stages=("decode",), doc="out (+)= (sum over ranks of the ternary codes) * scale",
))
