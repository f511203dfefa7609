"""Benchmark cases of SSL's compacted convolution and what the harness times.

Schemes (suite "ssl", stage "forward"):
- "ssl-paper": the AlexNet conv1-conv5 layers with the paper's per-layer row / column
  sparsities (plans.ALEXNET_PAPER, a documented stand-in); the case's sparsity slot holds the
  plan's mean per-layer FLOP sparsity (plans.PLAN_SLOT, 0.67) for every layer; each record has
  the layer's own row_sparsity, col_sparsity and flop_fraction.
- "ssl": any conv layer at a FLOP sparsity s, rows and columns removed evenly (plans.uniform).

Implementations, timed interleaved in one process:
- sparsebench: compact.CompactConv2d, the whole convolution including its gather;
- unstructured-csr: the project's unstructured CSR direct convolution (formats/unstructured) on
  a random element mask with the SAME number of multiply-adds (density = kept fraction), for the
  paper's "about twice the speedup of non-structured sparsity";
- torch-dense / torch-dense-channels_last: the full layer (speedups against the faster one).
"""

from __future__ import annotations

from typing import Iterator

import torch

from ...baselines import dense_impls, dense_layouts, problem_inputs
from ...cases import OURS, BenchCase, StageBench, Unavailable
from ...catalogue import LAYERS, Profile
from ...measure import Conv2dShape, dense_flops, tensor_bytes
from . import plans
from ...formats.lowered import CompactConv2d

SUITE = "ssl"
PAPER_SCHEME = "ssl-paper"
UNIFORM_SCHEME = "ssl"
SCHEMES = (PAPER_SCHEME, UNIFORM_SCHEME)
STAGES = ("forward",)
UNSTRUCTURED = "unstructured-csr"
PLAN_SLOT = plans.PLAN_SLOT  # the sparsity slot of ssl-paper cases


def _is_conv(layer: str) -> bool:
    return layer in LAYERS and isinstance(LAYERS[layer].shape, Conv2dShape)


def accepts(case: BenchCase) -> bool:
    if case.suite != SUITE or case.stage not in STAGES or not _is_conv(case.layer):
        return False
    if case.scheme == PAPER_SCHEME:
        return case.layer in plans.ALEXNET_PAPER and case.sparsity == PLAN_SLOT
    return case.scheme == UNIFORM_SCHEME and 0.0 < case.sparsity < 1.0


def cases(prof: Profile) -> Iterator[BenchCase]:
    for layer in prof.layers:
        for t in prof.threads:
            c = BenchCase(SUITE, layer, PAPER_SCHEME, "forward", PLAN_SLOT, t)
            if accepts(c):
                yield c
            for s in prof.sparsities:
                c = BenchCase(SUITE, layer, UNIFORM_SCHEME, "forward", s, t)
                if accepts(c):
                    yield c


def impl_names(case: BenchCase) -> tuple[str, ...]:
    return (OURS, UNSTRUCTURED, *dense_impls(LAYERS[case.layer].shape))


def structured_weight(w: torch.Tensor, row_s: float, col_s: float, seed: int = 0) -> torch.Tensor:
    """w with round(row_s * Cout) random filters and round(col_s * K) random columns zeroed."""
    cout = w.shape[0]
    K = w[0].numel()
    gen = torch.Generator().manual_seed(seed)
    n_rows, n_cols = int(round(row_s * cout)), int(round(col_s * K))
    if n_rows >= cout or n_cols >= K:
        raise ValueError(f"row sparsity {row_s} / column sparsity {col_s} removes every filter or column")
    out = w.clone().reshape(cout, K)
    out[torch.randperm(cout, generator=gen)[:n_rows]] = 0.0
    out[:, torch.randperm(K, generator=gen)[:n_cols]] = 0.0
    return out.reshape(w.shape)


def pick_layout(ws: torch.Tensor, x: torch.Tensor, shape, threads: int):
    """(CompactConv2d, its input): a channels-path compaction runs in whichever activation
    layout is faster for it (the torch-dense baseline gets the same choice); measured here with
    a few calls, outside the timed region, the input converted once outside it too."""
    import time

    nchw = CompactConv2d(ws, None, shape.stride, shape.padding, threads=threads)
    if nchw.mode != "channels":
        return nchw, x
    cl = CompactConv2d(ws, None, shape.stride, shape.padding, threads=threads, layout="channels_last")
    x_cl = x.contiguous(memory_format=torch.channels_last)

    def best(fn, arg):
        fn(arg)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn(arg)
            times.append(time.perf_counter() - t0)
        return min(times)

    return (cl, x_cl) if best(cl, x_cl) < best(nchw, x) else (nchw, x)


def build(case: BenchCase) -> StageBench:
    if not accepts(case):
        raise Unavailable(f"ssl has no case {case.id}")
    shape, x, w, dy, gen = problem_inputs(case)
    if case.scheme == PAPER_SCHEME:
        row_s, col_s = plans.ALEXNET_PAPER[case.layer]
        source = plans.SOURCE
    else:
        row_s, col_s = plans.uniform(case.sparsity)
        source = "uniform: rows and columns removed evenly"
    ws = structured_weight(w, row_s, col_s, seed=1)
    comp, xin = pick_layout(ws, x, shape, case.threads)
    frac = comp.flop_fraction
    # the unstructured comparison: a random element mask with the same number of multiply-adds
    from ...formats.base import ConvGeometry
    from ...formats.unstructured.csr import CSRWeight

    keep = torch.rand(w.shape, generator=torch.Generator().manual_seed(2)) < frac
    csr = CSRWeight.from_dense(w, keep)
    geom = ConvGeometry(shape.stride, shape.padding)
    dense = dense_layouts(shape, x, w, dy)
    d_fl = dense_flops(shape, "forward")
    info = {"row_sparsity": 1 - comp.kept_rows / shape.cout, "col_sparsity": 1 - comp.kept_cols / shape.k,
            "flop_fraction": frac, "compact_mode": comp.mode, "compact_layout": comp.layout,
        "plan_source": source, "unstructured_density": csr.nnz / w.numel()}
    if case.scheme == PAPER_SCHEME:
        info["paper_cpu_speedup"] = plans.ALEXNET_PAPER_CPU_SPEEDUP[case.layer]
    t = case.threads
    return StageBench(
        impls={OURS: lambda: comp(xin), UNSTRUCTURED: lambda: csr.forward(x, geom, threads=t),
               **{name: st["forward"] for name, st in dense.items()}},
        dense_flops=d_fl,
        effective_flops=int(round(d_fl * frac)),
        tensor_bytes={OURS: tensor_bytes(x, comp.weight), UNSTRUCTURED: tensor_bytes(x) + csr.tensor_bytes(),
                      **{name: tensor_bytes(x, w) for name in dense}},
        info=info,
    )
