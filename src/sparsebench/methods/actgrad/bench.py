"""Benchmark cases of activation-gradient pruning and what the harness times for each.

scheme "actgrad": the method (DBTD + stochastic pruning, front end paid by every stage; the
density it reaches is well above 1 - p); scheme "actgrad-exact": dO with exactly a fraction p of
zeros, no front end, i.e. what the sparse kernels give at the density p implies.
"""

from __future__ import annotations

from typing import Iterator

import torch

from ...baselines import TORCH_DENSE, problem_inputs, torch_dense
from ...cases import OURS, BenchCase, StageBench, Unavailable
from ...catalogue import Profile
from ...measure import Conv2dShape, dense_flops, effective_flops, tensor_bytes
from . import kernels as ag
from . import reference as ref
from .format import compress_reference

SUITE = "actgrad"
METHOD_SCHEME = "actgrad"
EXACT_SCHEME = "actgrad-exact"
SCHEMES = (METHOD_SCHEME, EXACT_SCHEME)
STAGES = ("front_end", "backward_data", "weight_grad", "backward")
TORCH_REFERENCE = "torch-reference"
# pruning rates per catalogue profile (the method's own grid; weight sparsity does not apply)
RATES = {"smoke": (0.9,), "quick": (0.9, 0.99), "full": (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)}


def cases(prof: Profile) -> Iterator[BenchCase]:
    for layer in prof.layers:
        for scheme in SCHEMES:
            for stage in STAGES:
                if stage == "front_end" and scheme != METHOD_SCHEME:
                    continue
                for p in RATES.get(prof.name, RATES["quick"]):
                    for t in prof.threads:
                        yield BenchCase(SUITE, layer, scheme, stage, p, t)


def impl_names(case: BenchCase) -> tuple[str, ...]:
    return (OURS, TORCH_REFERENCE) if case.stage == "front_end" else (OURS, TORCH_DENSE)


def build(case: BenchCase) -> StageBench:
    """Activation-gradient pruning. scheme "actgrad": the method itself (DBTD + stochastic pruning
    of dO, whose cost is included in every backward stage); scheme "actgrad-exact": a dO with
    exactly a fraction p of zeros and no front end, i.e. the kernels at the density p implies."""
    shape, x, w, dy, gen = problem_inputs(case)
    p, t, seed = case.sparsity, case.threads, 1234
    conv = isinstance(shape, Conv2dShape)
    n = dy.numel()
    if case.stage == "front_end":
        if case.scheme != METHOD_SCHEME:
            raise Unavailable("the front end belongs to the method (scheme 'actgrad') only")
        grad = ag.prune(dy, p, seed, threads=t)
        return StageBench(
            impls={OURS: lambda: ag.prune(dy, p, seed, threads=t),
                   TORCH_REFERENCE: lambda: ref.stochastic_prune(dy, ref.dbtd_threshold(dy, p), seed)},
            dense_flops=0, effective_flops=0,
            tensor_bytes={OURS: tensor_bytes(dy, grad.bits, grad.values, grad.rowptr),
                          TORCH_REFERENCE: tensor_bytes(dy) * 2},
            info={"sparsity_reached": 1.0 - grad.nnz / max(n, 1), "nnz": grad.nnz, "rate": p},
            bytes_moved=2 * 4 * n + tensor_bytes(grad.bits, grad.values, grad.rowptr),  # read g twice, write dO
        )
    if case.scheme == METHOD_SCHEME:
        front = lambda: ag.prune(dy, p, seed, threads=t)  # noqa: E731  (paid by every stage)
    elif case.scheme == EXACT_SCHEME:
        kept = torch.rand(dy.shape, generator=gen) >= p
        fixed = compress_reference(torch.where(kept, dy, torch.zeros_like(dy)))
        front = lambda: fixed  # noqa: E731
    else:
        raise Unavailable(f"unknown activation-gradient scheme {case.scheme!r}")
    grad = front()
    if conv:
        k, st, pd = (shape.kh, shape.kw), shape.stride, shape.padding

        def bwd_data(g):
            return ag.conv2d_backward_data(w, g, (shape.h, shape.w), st, pd, threads=t)

        def wgrad(g):
            return ag.conv2d_weight_grad(x, g, k, st, pd, threads=t)
    else:

        def bwd_data(g):
            return ag.linear_backward_data(w, g, threads=t)

        def wgrad(g):
            return ag.linear_weight_grad(x, g, threads=t)

    dense = torch_dense(shape, x, w, dy)
    ours = {
        "backward_data": lambda: bwd_data(front()),
        "weight_grad": lambda: wgrad(front()),
        "backward": lambda: (lambda g: (bwd_data(g), wgrad(g)))(front()),
    }
    baseline = {
        "backward_data": dense["backward_data"],
        "weight_grad": dense["weight_grad"],
        "backward": lambda: (dense["backward_data"](), dense["weight_grad"]()),
    }
    if case.stage not in ours:
        raise Unavailable(f"unknown activation-gradient stage {case.stage!r}")
    stages = ("backward_data", "weight_grad") if case.stage == "backward" else (case.stage,)
    density = grad.nnz / max(n, 1)
    acts = {"backward_data": (w,), "weight_grad": (x,), "backward": (w, x)}[case.stage]
    return StageBench(
        impls={OURS: ours[case.stage], TORCH_DENSE: baseline[case.stage]},
        dense_flops=sum(dense_flops(shape, st) for st in stages),
        effective_flops=sum(effective_flops(shape, st, grad_density=density) for st in stages),
        tensor_bytes={OURS: tensor_bytes(*acts, grad.bits, grad.values, grad.rowptr),
                      TORCH_DENSE: tensor_bytes(*acts, dy)},
        info={"sparsity_reached": 1.0 - density, "nnz": grad.nnz, "rate": p},
    )
