"""Benchmark cases of intra-kernel strided sparsity (suite "strided", stage "forward"): scheme
"strided-m<m>" on every conv layer whose kernel is at least m wide, the sparsity slot holding the
nominal 1 - 1/m^2 (the record's sparsity_reached is the real one: per-map offsets keep 1 to
ceil(k/m)^2 taps). Implementations, interleaved in one process: sparsebench (the compacted
column-gather + GEMM), unstructured-csr (the project's CSR direct convolution on a random mask of
the same density) and torch-dense in both layouts (the full layer)."""

from __future__ import annotations

from typing import Iterator

import torch

from ...baselines import dense_impls, dense_layouts, problem_inputs
from ...cases import OURS, BenchCase, StageBench, Unavailable
from ...catalogue import LAYERS, Profile
from ...measure import Conv2dShape, dense_flops, tensor_bytes
from . import reference
from .kernels import StridedConv2d

SUITE = "strided"
STRIDES = (2, 3)
SCHEMES = tuple(f"strided-m{m}" for m in STRIDES)
STAGES = ("forward",)
UNSTRUCTURED = "unstructured-csr"


def _m(scheme: str) -> int:
    return int(scheme[len("strided-m"):])


def nominal(m: int) -> float:
    return round(1.0 - 1.0 / (m * m), 4)


def accepts(case: BenchCase) -> bool:
    if case.suite != SUITE or case.scheme not in SCHEMES or case.stage not in STAGES or case.layer not in LAYERS:
        return False
    shape = LAYERS[case.layer].shape
    m = _m(case.scheme)
    return isinstance(shape, Conv2dShape) and min(shape.kh, shape.kw) >= m and case.sparsity == nominal(m)


def cases(prof: Profile) -> Iterator[BenchCase]:
    """One case per m on the profile's conv layers. The sparsity is set by m, not by the profile,
    so the speedup-vs-sparsity curves (derived "<profile>-curves" profiles) get none."""
    if prof.name.endswith("-curves"):
        return
    for layer in prof.layers:
        for scheme in SCHEMES:
            for t in prof.threads:
                c = BenchCase(SUITE, layer, scheme, "forward", nominal(_m(scheme)), t)
                if accepts(c):
                    yield c


def impl_names(case: BenchCase) -> tuple[str, ...]:
    return (OURS, UNSTRUCTURED, *dense_impls(LAYERS[case.layer].shape))


def build(case: BenchCase) -> StageBench:
    if not accepts(case):
        raise Unavailable(f"strided has no case {case.id}")
    shape, x, w, dy, gen = problem_inputs(case)
    m = _m(case.scheme)
    offs = reference.offsets(shape.cin, m, seed=0)
    conv = StridedConv2d(w, m, offs, shape.stride, shape.padding, threads=case.threads)
    from ...formats.base import ConvGeometry
    from ...formats.unstructured.csr import CSRWeight

    keep = torch.rand(w.shape, generator=torch.Generator().manual_seed(2)) < conv.density
    csr = CSRWeight.from_dense(w, keep)
    geom = ConvGeometry(shape.stride, shape.padding)
    dense = dense_layouts(shape, x, w, dy)
    d_fl = dense_flops(shape, "forward")
    t = case.threads
    return StageBench(
        impls={OURS: lambda: conv(x), UNSTRUCTURED: lambda: csr.forward(x, geom, threads=t),
               **{name: st["forward"] for name, st in dense.items()}},
        dense_flops=d_fl, effective_flops=int(round(d_fl * conv.density)),
        tensor_bytes={OURS: tensor_bytes(x, conv.compact.weight), UNSTRUCTURED: tensor_bytes(x) + csr.tensor_bytes(),
                      **{name: tensor_bytes(x, w) for name in dense}},
        info={"m": m, "sparsity_reached": 1.0 - conv.density, "compact_mode": conv.compact.mode,
              "unstructured_density": csr.nnz / w.numel()},
    )
