"""Benchmark cases of MEST (suite "mest") per scheme x catalogue layer x stage, and what each
stage times: ours (the layer built by MEST's sparse init, on the formats' kernels; its mutation on
kernels/mest) beside torch-dense (the dense layer) and, for the mask change, the masked-dense
mutation the authors' code does.

  forward, backward_data, weight_grad_sampled (dW at kept positions), update (sparse SGD),
  mask_update  one MEST mutation at ratio 0.02 (prune round(0.02 / density * kept) units, grow as
               many): ours = C++ kernels, "reference" = reference.py, torch-dense = masked dense
               tensors; timed beside one whole MEST training step of the layer ("...-train-step":
               forward + backward + update) so its cost reads as a fraction of a step
  step         forward + backward through autograd: MEST layer vs the dense layer
Cases at sparsity 0 are skipped (nothing to mutate; MEST is a sparse method).
"""

from __future__ import annotations

import hashlib
from typing import Iterator

import torch

from ... import catalogue
from ...baselines import (TORCH_DENSE, autograd_step, chain, dense_layouts, problem_inputs,
                          weight_stage_dense_impls)
from ...cases import OURS, BenchCase, StageBench, Unavailable, grid
from ...catalogue import Profile
from ...formats import ConvGeometry, get_format
from ...formats.modules import SparseConv2d, SparseLinear
from ...measure import Conv2dShape, dense_flops, effective_flops, tensor_bytes
from .init import SCHEMES, random_sparse_weight
from .mutate import mutate
from .train import units_for_ratio
from .units import stored_units

SUITE = "mest"
STAGES = ("forward", "backward_data", "weight_grad_sampled", "update", "mask_update", "step")
RATIO = 0.02  # the mutation ratio timed (weight-sparsity points), MEST's first EM step
REFERENCE = "reference"
TRAIN_STEP = OURS + "-train-step"


def mask_digest(sw) -> str:
    """Short fingerprint of a layer's kept positions (no dense mask)."""
    return hashlib.sha1(sw.positions().to(torch.int64).contiguous().numpy().tobytes()).hexdigest()[:16]


def _shape_of(layer: str):
    return catalogue.layer(layer).shape.weight_shape


def accepts(case: BenchCase) -> bool:
    if case.scheme not in SCHEMES or not 0.0 < case.sparsity < 1.0 or not catalogue.has_layer(case.layer):
        return False
    return get_format(case.scheme).accepts(_shape_of(case.layer), case.sparsity)


def cases(prof: Profile) -> Iterator[BenchCase]:
    schemes = [s for s in SCHEMES if prof.formats is None or s in prof.formats]
    yield from grid(SUITE, prof, schemes, STAGES, accepts)


def refusals(prof: Profile) -> list[str]:
    out = []
    for name in prof.layers:
        shape = _shape_of(name)
        for scheme in SCHEMES:
            reasons = dict.fromkeys(r for r in (get_format(scheme).refuses(shape, s) for s in prof.sparsities if s > 0) if r)
            out += [f"{scheme} skips {name}: {r}" for r in reasons]
    return out


def refused_cases(prof: Profile) -> Iterator[tuple[BenchCase, str]]:
    for layer in prof.layers:
        if not catalogue.has_layer(layer):
            continue
        for scheme in SCHEMES:
            why = get_format(scheme).refuses(_shape_of(layer), None)
            if why:
                for stage in STAGES:
                    for s in prof.sparsities:
                        for t in prof.threads:
                            if s > 0:
                                yield BenchCase(SUITE, layer, scheme, stage, s, t), why


def impl_names(case: BenchCase) -> tuple[str, ...]:
    if case.stage == "mask_update":
        return (OURS, REFERENCE, TORCH_DENSE, TRAIN_STEP)
    return (OURS, *weight_stage_dense_impls(case))


def _layer_of(sw, shape, threads: int):
    if isinstance(shape, Conv2dShape):
        return SparseConv2d.from_sparse(sw, shape.stride, shape.padding, bias=False, threads=threads)
    return SparseLinear.from_sparse(sw, bias=False, threads=threads)


def _momentum_opt(params) -> torch.optim.SGD:
    params = list(params)
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    return opt


def masked_dense_mutation(weight: torch.nn.Parameter, mask: torch.Tensor, opt, n: int, gen) -> None:
    """What the authors' code does on dense tensors: |w| of the kept weights ranked, the n smallest
    dropped, n zeros grown at random, the mask re-applied to the weight and its momentum."""
    with torch.no_grad():
        flat = mask.view(-1)
        kept = torch.nonzero(flat).flatten()
        free = torch.nonzero(~flat).flatten()
        drop = kept[torch.topk(weight.detach().view(-1)[kept].abs(), n, largest=False).indices]
        grow = free[torch.randperm(len(free), generator=gen)[:n]]
        flat[drop] = False
        flat[grow] = True
        weight.mul_(mask)
        opt.state[weight]["momentum_buffer"].mul_(mask)


def _train_step(layer, opt, x, dy):
    step = autograd_step(layer, x, dy)

    def run():
        out = step()
        opt.step()
        return out

    return run


def build(case: BenchCase) -> StageBench:
    if not accepts(case):
        raise Unavailable(f"MEST cannot run {case.id}: scheme, layer or sparsity not accepted")
    shape, x, _, dy, _ = problem_inputs(case)
    sw = random_sparse_weight(_shape_of(case.layer), case.scheme, case.sparsity, seed=0)
    geom = ConvGeometry(shape.stride, shape.padding) if isinstance(shape, Conv2dShape) else None
    t = case.threads
    grad_values = torch.randn_like(sw.values)
    momentum = torch.zeros_like(sw.values)
    wm = sw.to_dense()  # the dense baselines' weight (built outside timing)

    def forward():
        return sw.forward(x, geom, threads=t)

    def bdata():
        return sw.backward_data(dy, tuple(x.shape), geom, threads=t)

    def wgrad():
        return sw.weight_grad_sampled(x, dy, geom, threads=t)

    if case.stage == "mask_update":
        units = stored_units(sw)
        kept = int(units.kept.numel())
        n = min(units_for_ratio(RATIO, case.sparsity, kept), units.n_units - kept, kept)
        layers, opts, counter = {}, {}, {}
        for impl in (OURS, REFERENCE):
            layers[impl] = _layer_of(random_sparse_weight(_shape_of(case.layer), case.scheme, case.sparsity, seed=0),
                                     shape, t)
            opts[impl] = _momentum_opt(layers[impl].parameters())
            counter[impl] = 0

        def mutation(impl):
            def run():
                counter[impl] += 1
                return mutate(layers[impl], n, n, optimizer=opts[impl], seed=counter[impl],
                              impl="kernel" if impl == OURS else "reference", threads=t)
            return run

        dense_w = torch.nn.Parameter(wm.clone())
        dmask = sw.mask().clone()
        dense_opt = _momentum_opt([dense_w])
        gen = torch.Generator().manual_seed(7)
        n_weights = int(round(n * units.unit_weights))
        step_layer = _layer_of(random_sparse_weight(_shape_of(case.layer), case.scheme, case.sparsity, seed=0), shape, t)
        impls = {OURS: mutation(OURS), REFERENCE: mutation(REFERENCE),
                 TORCH_DENSE: lambda: masked_dense_mutation(dense_w, dmask, dense_opt, n_weights, gen),
                 TRAIN_STEP: _train_step(step_layer, _momentum_opt(step_layer.parameters()), x, dy)}
        info_extra = {"units_mutated": n, "weights_mutated": n_weights}
    else:
        ours = {
            "forward": forward,
            "backward_data": bdata,
            "weight_grad_sampled": wgrad,
            "update": lambda: sw.sgd_update(grad_values, momentum, lr=0.01, momentum=0.9, weight_decay=5e-4, threads=t),
            "step": autograd_step(_layer_of(sw, shape, t), x, dy),
        }
        dense = dense_layouts(shape, x, wm, dy)
        impls = {OURS: ours[case.stage], **{name: dense[name][case.stage] for name in weight_stage_dense_impls(case)}}
        info_extra = {}
    density = sw.density
    acts = {"forward": (x,), "backward_data": (dy,), "weight_grad_sampled": (x, dy), "update": (),
            "mask_update": (), "step": (x, dy)}[case.stage]
    holds_state = case.stage in ("update", "mask_update", "step")
    return StageBench(
        impls=impls,
        dense_flops=dense_flops(shape, case.stage, sampled=True),
        effective_flops=effective_flops(shape, case.stage, weight_density=density, sampled=True),
        tensor_bytes={
            OURS: lambda: sw.tensor_bytes() + tensor_bytes(*acts) + (tensor_bytes(grad_values, momentum)
                                                                     if holds_state else 0),
            **{name: tensor_bytes(wm, *acts) * (1 if not holds_state else 1) + (2 * tensor_bytes(wm) if holds_state else 0)
               for name in weight_stage_dense_impls(case)},
        },
        info={"sparsity_reached": 1.0 - density, "nnz": sw.nnz, "mask_digest": mask_digest(sw), **info_extra},
        ratio_to=TRAIN_STEP if case.stage == "mask_update" else None,
    )
