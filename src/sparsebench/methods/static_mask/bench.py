"""Benchmark cases of static-mask sparse training on every format, and what each stage times:
ours (the format's kernels) beside torch-dense (masked dense training) and torch-sparse.

The problem of a case (inputs, mask, masked dense weight) is deterministic per case, so a peer's
child process rebuilds exactly the same one (masked_problem, mask_digest).
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterator

import torch

from ...baselines import (TORCH_DENSE, TORCH_SPARSE, autograd_step, chain, dense_layouts, problem_inputs,
                          torch_sparse, weight_stage_dense_impls)
from ...cases import OURS, BenchCase, StageBench, Unavailable, grid
from ... import catalogue
from ...catalogue import Profile
from ...formats import ConvGeometry, available_formats, get_format
from ...formats.modules import SparseConv2d, SparseLinear
from ...measure import Conv2dShape, dense_flops, effective_flops, tensor_bytes

SUITE = "weight_sparse"
# the stages every format is timed on, in report order ("weight_grad_sampled": dW at the kept
# positions; the dense dW is not a static-mask stage)
STAGES = ("forward", "backward_data", "weight_grad_sampled", "update", "mask_update", "backward", "step")
# a mask change as MEST / SET do it: prune this fraction of the kept units, grow as many
MASK_UPDATE_FRACTION = 0.1
# the implementation timed beside mask_update so its cost reads as a multiple of one forward
FORWARD_REF = OURS + "-forward"


def formats_of(prof: Profile) -> list[str]:
    return list(prof.formats) if prof.formats is not None else available_formats()


def accepts(case: BenchCase) -> bool:
    """The case's format can hold the layer at the case's sparsity (and a mask change has free
    positions to grow into: not at sparsity 0)."""
    try:
        fmt = get_format(case.scheme)
    except KeyError:
        return False
    if case.stage == "mask_update" and case.sparsity <= 0.0:
        return False
    return catalogue.has_layer(case.layer) and fmt.accepts(catalogue.layer(case.layer).shape.weight_shape,
                                                           case.sparsity)


def cases(prof: Profile) -> Iterator[BenchCase]:
    """Only the cases each format accepts (layer geometry and sparsity range)."""
    yield from grid(SUITE, prof, formats_of(prof), STAGES, accepts)


def refusals(prof: Profile) -> list[str]:
    """One line per (layer, format) the format cannot hold, or cannot hold at some sparsity."""
    out = []
    for name in prof.layers:
        shape = catalogue.layer(name).shape.weight_shape
        for scheme in formats_of(prof):
            fmt = get_format(scheme)
            reasons = dict.fromkeys(r for r in (fmt.refuses(shape, s) for s in prof.sparsities) if r)
            out += [f"{scheme} skips {name}: {r}" for r in reasons]
    return out


def refused_cases(prof: Profile) -> Iterator[tuple[BenchCase, str]]:
    """The (case, reason) pairs of the grid whose layer geometry a format cannot hold (e.g. pattern
    on 1x1, 5x5 or linear layers): recorded as unavailable, never silently dropped."""
    for layer in prof.layers:
        if not catalogue.has_layer(layer):
            continue
        for scheme in formats_of(prof):
            why = get_format(scheme).refuses(catalogue.layer(layer).shape.weight_shape, None)
            if not why:
                continue
            for stage in STAGES:
                for s in prof.sparsities:
                    for t in prof.threads:
                        if not (stage == "mask_update" and s <= 0.0):
                            yield BenchCase(SUITE, layer, scheme, stage, s, t), why


def impl_names(case: BenchCase) -> tuple[str, ...]:
    if case.stage == "mask_update":
        return (OURS, TORCH_DENSE, FORWARD_REF)
    return (OURS, *weight_stage_dense_impls(case)) + ((TORCH_SPARSE,) if case.stage != "update" else ())


def masked_problem(case: BenchCase):
    """(format, shape, x, w, dy, mask object, reached sparsity, masked dense weight) of a case."""
    try:
        fmt = get_format(case.scheme)
    except KeyError as exc:
        raise Unavailable(f"scheme {case.scheme!r} not available: {exc}") from exc
    shape, x, w, dy, gen = problem_inputs(case)
    why = fmt.refuses(tuple(w.shape), case.sparsity)
    if why:
        raise Unavailable(f"scheme {case.scheme!r} cannot run this case: {why}")
    mask = fmt.make_mask(w, case.sparsity, by="magnitude", generator=gen)
    return fmt, shape, x, w, dy, mask, mask.sparsity, w * mask.dense()


def mask_digest(mask: torch.Tensor) -> str:
    """Short fingerprint of a dense bool mask, to check two processes measured the same one."""
    return hashlib.sha1(mask.to(torch.bool).contiguous().numpy().tobytes()).hexdigest()[:16]


_STAGE_ACTS = {"forward": "x", "backward_data": "dy", "weight_grad_sampled": "x dy", "update": "", "mask_update": "",
               "backward": "x dy", "step": "x dy"}


def stage_acts(stage: str, x: torch.Tensor, dy: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return tuple({"x": x, "dy": dy}[a] for a in _STAGE_ACTS[stage].split())


def _layer(case: BenchCase, shape, mask, w) -> torch.nn.Module:
    if isinstance(shape, Conv2dShape):
        return SparseConv2d(shape.cin, shape.cout, shape.kh, shape.stride, shape.padding, bias=False,
                            scheme=case.scheme, mask=mask, weight=w, threads=case.threads)
    return SparseLinear(shape.in_features, shape.out_features, bias=False, scheme=case.scheme, mask=mask, weight=w,
                        threads=case.threads)


def _with_momentum(params) -> torch.optim.SGD:
    """torch.optim.SGD (momentum 0.9, weight decay 5e-4) after one step, so it holds momentum state."""
    params = list(params)
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    return opt


def masked_dense_prune_grow(weight: torch.nn.Parameter, mask: torch.Tensor, opt: torch.optim.SGD, fraction: float,
                            gen: torch.Generator) -> None:
    """The masked dense mask change (what the authors' code does on dense tensors with a mask):
    drop the smallest-|w| fraction of the kept weights, grow as many at random among the zeros,
    re-apply the mask to the weight and its momentum buffer."""
    with torch.no_grad():
        flat = mask.view(-1)
        kept = torch.nonzero(flat).flatten()
        free = torch.nonzero(~flat).flatten()
        n = min(int(round(fraction * len(kept))), len(free))
        drop = kept[torch.topk(weight.detach().view(-1)[kept].abs(), n, largest=False).indices]
        grow = free[torch.randperm(len(free), generator=gen)[:n]]
        flat[drop] = False
        flat[grow] = True
        weight.mul_(mask)
        opt.state[weight]["momentum_buffer"].mul_(mask)


def _mask_update(case: BenchCase, shape, x, mask, w, wm, forward: Callable) -> dict:
    layer = _layer(case, shape, mask, w)
    opt = _with_momentum(layer.parameters())
    gen = torch.Generator().manual_seed(7)
    dense_w = torch.nn.Parameter(wm.clone())
    dense_mask = mask.dense().clone()
    dense_opt = _with_momentum([dense_w])
    dense_gen = torch.Generator().manual_seed(7)
    return {
        OURS: lambda: layer.prune_grow(MASK_UPDATE_FRACTION, optimizer=opt, generator=gen),
        TORCH_DENSE: lambda: masked_dense_prune_grow(dense_w, dense_mask, dense_opt, MASK_UPDATE_FRACTION, dense_gen),
        FORWARD_REF: forward,
    }


def _sparse_copies(wm: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The CSR tensors torch_sparse keeps: W, W^T and the mask (same sizes as its own)."""
    w2 = wm.reshape(wm.shape[0], -1)
    return w2.to_sparse_csr(), w2.t().contiguous().to_sparse_csr(), (w2 != 0).to(w2.dtype).to_sparse_csr()


def build(case: BenchCase) -> StageBench:
    fmt, shape, x, w, dy, mask, reached, wm = masked_problem(case)
    sw = fmt.from_mask(mask, w)
    geom = ConvGeometry(shape.stride, shape.padding) if isinstance(shape, Conv2dShape) else None
    t = case.threads
    grad_values = torch.randn_like(sw.values)
    momentum = torch.zeros_like(sw.values)

    def forward():
        return sw.forward(x, geom, threads=t)

    def bdata():
        return sw.backward_data(dy, tuple(x.shape), geom, threads=t)

    def wgrad():
        return sw.weight_grad_sampled(x, dy, geom, threads=t)

    ours = {
        "forward": lambda: forward,
        "backward_data": lambda: bdata,
        "weight_grad_sampled": lambda: wgrad,
        "backward": lambda: chain(bdata, wgrad),
        "update": lambda: lambda: sw.sgd_update(grad_values, momentum, lr=0.01, momentum=0.9, weight_decay=5e-4,
                                                threads=t),
        # our autograd layer (forward, then weight_grad + backward_data), like torch's and SparseProp's
        "step": lambda: autograd_step(_layer(case, shape, mask, w), x, dy),
    }
    if case.stage == "mask_update":
        impls = _mask_update(case, shape, x, mask, w, wm, forward)
    elif case.stage in ours:
        dense = dense_layouts(shape, x, wm, dy)
        impls = {OURS: ours[case.stage](), **{name: dense[name][case.stage] for name in weight_stage_dense_impls(case)}}
        sparse_stages = torch_sparse(shape, x, wm, dy) if case.stage != "update" else {}
        if case.stage in sparse_stages:
            impls[TORCH_SPARSE] = sparse_stages[case.stage]
    else:
        raise Unavailable(f"weight-sparse stage {case.stage!r} is not defined")
    density = 1.0 - reached
    acts = stage_acts(case.stage, x, dy)
    holds_state = case.stage in ("update", "mask_update")
    dense_mask = mask.dense()
    return StageBench(
        impls=impls,
        dense_flops=dense_flops(shape, case.stage, sampled=True),
        effective_flops=effective_flops(shape, case.stage, weight_density=density, sampled=True),
        tensor_bytes={
            # update and mask_update hold weights, gradient (or mask) and momentum: three weight-sized tensors.
            # Ours is read after timing (a callable), so every cache the format built (CSR transpose) counts.
            OURS: lambda: sw.tensor_bytes() + tensor_bytes(*acts) + (tensor_bytes(grad_values, momentum)
                                                                     if holds_state else 0),
            **{name: tensor_bytes(wm, *acts) * (3 if holds_state else 1) for name in weight_stage_dense_impls(case)},
            # torch.sparse holds W, its transpose and the mask as CSR (torch_sparse)
            TORCH_SPARSE: tensor_bytes(*_sparse_copies(wm), *acts),
        },
        info={"sparsity_reached": reached, "nnz": sw.nnz, "mask_digest": mask_digest(dense_mask)},
        ratio_to=FORWARD_REF if case.stage == "mask_update" else None,
    )
