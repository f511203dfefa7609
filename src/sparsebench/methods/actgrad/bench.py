"""Benchmark cases of activation-gradient pruning and what the harness times for each.

The gradient a case prunes, by scheme (each record says it in ``grad_source``):

- "actgrad-captured": the method on real activation gradients (capture.py: captured during
  seeded training of small CNNs on digits, mapped onto the catalogue shape channel by channel),
  pruned where the paper prunes for the layer's structure: CIFAR-ResNet layers (Conv-BN-ReLU)
  from digits-cnn-bn's conv2 dO, pruned at the conv output; AlexNet layers (Conv-ReLU) from
  digits-cnn's conv2, the gradient at the ReLU output pruned before the ReLU backward (the
  front end then applies the ReLU mask and compresses); linear layers from digits-cnn's fc dO.
  The claims' verdicts use these rows.
- "actgrad-captured-convout": Conv-ReLU layers only, the same captured source pruned at the conv
  output instead (the placement the paper does not use there), for the side-by-side density.
- "actgrad": the method on a Gaussian dO (torch.randn): a labelled stress case (DBTD's normal
  assumption holds exactly, density about 0.46 at p = 0.9).
- "actgrad-exact": dO with exactly a fraction p of zeros, no front end, i.e. what the sparse
  kernels give at the density p implies.

The front end is paid by every stage of the method's schemes.
"""

from __future__ import annotations

from typing import Iterator

import torch

from ...baselines import TORCH_DENSE, dense_impls, dense_layouts, problem_inputs
from ...cases import OURS, BenchCase, StageBench, Unavailable
from ...catalogue import LAYERS, Profile
from ...measure import Conv2dShape, dense_flops, effective_flops, tensor_bytes
from . import kernels as ag
from . import reference as ref
from .format import compress_reference

SUITE = "actgrad"
METHOD_SCHEME = "actgrad"  # Gaussian dO: the stress case
EXACT_SCHEME = "actgrad-exact"
CAPTURED_SCHEME = "actgrad-captured"  # captured dO, the paper's placement per structure
CONVOUT_SCHEME = "actgrad-captured-convout"  # captured Conv-ReLU dO pruned at the conv output
SCHEMES = (CAPTURED_SCHEME, CONVOUT_SCHEME, METHOD_SCHEME, EXACT_SCHEME)
FRONT_END_SCHEMES = (CAPTURED_SCHEME, CONVOUT_SCHEME, METHOD_SCHEME)
GAUSSIAN_SOURCE = "gaussian N(0, 1) dO (stress case)"
# catalogue network -> (capture net, its layer, structure) the captured rows are drawn from
CAPTURE_SOURCES = {
    "cifar-resnet": ("digits-cnn-bn", "conv2", "conv-bn-relu"),
    "alexnet": ("digits-cnn", "conv2", "conv-relu"),
    "mlp": ("digits-cnn", "fc", "linear"),
}
CAPTURE_POINT = "late"
STAGES = ("front_end", "backward_data", "weight_grad", "backward")
TORCH_REFERENCE = "torch-reference"
# pruning rates per catalogue profile (the method's own grid; weight sparsity does not apply)
RATES = {"smoke": (0.9,), "quick": (0.9, 0.99), "full": (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)}


def accepts(case: BenchCase) -> bool:
    if case.scheme not in SCHEMES or case.layer not in LAYERS:
        return False
    if case.stage == "front_end" and case.scheme not in FRONT_END_SCHEMES:
        return False
    if case.scheme == CONVOUT_SCHEME:  # only where the paper's placement differs from the conv output
        return CAPTURE_SOURCES.get(LAYERS[case.layer].net, (None, None, None))[2] == "conv-relu"
    return True


def cases(prof: Profile) -> Iterator[BenchCase]:
    for layer in prof.layers:
        for scheme in SCHEMES:
            for stage in STAGES:
                for p in RATES.get(prof.name, RATES["quick"]):
                    for t in prof.threads:
                        case = BenchCase(SUITE, layer, scheme, stage, p, t)
                        if accepts(case):
                            yield case


def captured_front(case: BenchCase, dy: torch.Tensor, seed: int):
    """(front end callable, info) of a captured-gradient case: the catalogue-shaped gradient drawn
    from its capture source (capture.mapped) and the placement's front end."""
    from . import capture
    from .nn import compress

    net = LAYERS[case.layer].net
    if net not in CAPTURE_SOURCES:
        raise Unavailable(f"no captured gradient is mapped onto {net!r} layers")
    src_net, src_layer, structure = CAPTURE_SOURCES[net]
    cap = capture.load_capture(src_net)
    source = capture.Source(src_net, src_layer, CAPTURE_POINT)
    key = f"{CAPTURE_POINT}/{src_layer}"
    p, t = case.sparsity, case.threads
    relu = structure == "conv-relu" and case.scheme == CAPTURED_SCHEME
    info = {"grad_source": source.label, "structure": structure, "capture_digest": capture.digest(cap),
            "placement": "relu_output" if relu else "conv_output"}
    if not relu:
        g = capture.mapped(cap[f"{key}/dO"], tuple(dy.shape), seed=7)
        info["dO_zero_fraction"] = float((g == 0).double().mean())
        return (lambda: ag.prune(g, p, 1234, threads=t)), info, \
            (lambda: ref.stochastic_prune(g, ref.dbtd_threshold(g, p), 1234))
    d_r = capture.mapped(cap[f"{key}/dR"], tuple(dy.shape), seed=7)
    mask = capture.mapped_mask(cap[f"{key}/mask"], tuple(dy.shape), seed=8)
    buf = torch.empty_like(d_r)
    info["relu_zero_fraction"] = float((mask == 0).double().mean())

    def front():  # prune the ReLU-output gradient, ReLU backward (mask), compress the conv's dO
        tau = ag.dbtd_threshold(d_r, p, threads=t)
        ag.stochastic_prune(d_r, tau, 1234, out=buf, threads=t)
        torch.mul(buf, mask, out=buf)
        return compress(buf, threads=t)

    def reference():
        return ref.stochastic_prune(d_r, ref.dbtd_threshold(d_r, p), 1234)[0] * mask

    return front, info, reference


def impl_names(case: BenchCase) -> tuple[str, ...]:
    if case.stage == "front_end":
        return (OURS, TORCH_REFERENCE)
    return (OURS, *dense_impls(LAYERS[case.layer].shape)) if case.layer in LAYERS else (OURS, TORCH_DENSE)


def build(case: BenchCase) -> StageBench:
    """Activation-gradient pruning. scheme "actgrad": the method itself (DBTD + stochastic pruning
    of dO, whose cost is included in every backward stage); scheme "actgrad-exact": a dO with
    exactly a fraction p of zeros and no front end, i.e. the kernels at the density p implies."""
    shape, x, w, dy, gen = problem_inputs(case)
    p, t, seed = case.sparsity, case.threads, 1234
    conv = isinstance(shape, Conv2dShape)
    n = dy.numel()
    info: dict = {"grad_source": GAUSSIAN_SOURCE, "placement": "conv_output"}
    if case.scheme not in SCHEMES:
        raise Unavailable(f"unknown activation-gradient scheme {case.scheme!r}")
    if case.scheme in (CAPTURED_SCHEME, CONVOUT_SCHEME):
        front, info, reference = captured_front(case, dy, seed)
    elif case.scheme == METHOD_SCHEME:
        front = lambda: ag.prune(dy, p, seed, threads=t)  # noqa: E731  (paid by every stage)
        reference = lambda: ref.stochastic_prune(dy, ref.dbtd_threshold(dy, p), seed)  # noqa: E731
    if case.stage == "front_end":
        if case.scheme not in FRONT_END_SCHEMES:
            raise Unavailable("the front end belongs to the method's schemes only (not actgrad-exact)")
        grad = front()
        return StageBench(
            impls={OURS: front, TORCH_REFERENCE: reference},
            dense_flops=0, effective_flops=0,
            tensor_bytes={OURS: tensor_bytes(dy, grad.bits, grad.values, grad.rowptr),
                          TORCH_REFERENCE: tensor_bytes(dy) * 2},
            info={**info, "sparsity_reached": 1.0 - grad.nnz / max(n, 1), "nnz": grad.nnz, "rate": p},
            bytes_moved=2 * 4 * n + tensor_bytes(grad.bits, grad.values, grad.rowptr),  # read g twice, write dO
        )
    if case.scheme == EXACT_SCHEME:
        info = {"grad_source": "gaussian dO with exactly a fraction p of zeros (no front end)"}
        kept = torch.rand(dy.shape, generator=gen) >= p
        fixed = compress_reference(torch.where(kept, dy, torch.zeros_like(dy)))
        front = lambda: fixed  # noqa: E731
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

    dense = dense_layouts(shape, x, w, dy)
    ours = {
        "backward_data": lambda: bwd_data(front()),
        "weight_grad": lambda: wgrad(front()),
        "backward": lambda: (lambda g: (bwd_data(g), wgrad(g)))(front()),
    }
    if case.stage not in ours:
        raise Unavailable(f"unknown activation-gradient stage {case.stage!r}")
    baselines = {name: stages[case.stage] for name, stages in dense.items()}
    stages = ("backward_data", "weight_grad") if case.stage == "backward" else (case.stage,)
    density = grad.nnz / max(n, 1)
    acts = {"backward_data": (w,), "weight_grad": (x,), "backward": (w, x)}[case.stage]
    return StageBench(
        impls={OURS: ours[case.stage], **baselines},
        dense_flops=sum(dense_flops(shape, st) for st in stages),
        effective_flops=sum(effective_flops(shape, st, grad_density=density) for st in stages),
        tensor_bytes={OURS: tensor_bytes(*acts, grad.bits, grad.values, grad.rowptr),
                      **{name: tensor_bytes(*acts, dy) for name in baselines}},
        info={**info, "sparsity_reached": 1.0 - density, "nnz": grad.nnz, "rate": p},
    )
