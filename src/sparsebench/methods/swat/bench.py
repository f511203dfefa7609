"""Benchmark cases of SWAT and what the harness times for each (case.sparsity is both the weight
and the activation sparsity).

Stages (ours vs torch-dense, the faster of NCHW / channels_last):
  forward        conv(x, TopK(W)) on CSR + TopK(|x|) compressed with the reused threshold
  front_end      the refresh of the stored activation: exact selection on |x| + compression
                 (vs torch.topk / torch.kthvalue of |x|: what the authors' code calls)
  backward_data  conv2d_input(TopK(W), dy) on CSR
  weight_grad    conv2d_weight(TopK(x), dy) from the compressed stored input (new kernel)
  backward       backward_data + weight_grad
  mask_update    the weight refresh: exact selection on |W| + CSR rebuild (vs torch.kthvalue +
                 mask + the same CSR build)
  step           SwatConv2d / SwatLinear forward + backward through autograd. Scheme "swat":
                 thresholds reused (the steps between refreshes: CSR rebuilt, no selection);
                 "swat-refresh": selection every step (period 1). The step at period p is
                 t(swat) + (t(swat-refresh) - t(swat)) / p; tables() derives its speedup from the two
                 cases' speedups over their own side-by-side torch-dense steps.
"""

from __future__ import annotations

from typing import Iterator

import torch

from ...baselines import dense_impls, dense_layouts, problem_inputs
from ...cases import OURS, BenchCase, StageBench, Unavailable
from ...catalogue import LAYERS, Profile
from ...formats.base import ConvGeometry
from ...formats.unstructured.csr import CSRWeight
from ...measure import Conv2dShape, dense_flops, tensor_bytes
from . import kernels as sk
from .nn import SwatConv2d, SwatLinear, build_topk_weight
from .reference import keep_count

SUITE = "swat"
SCHEME = "swat"  # unstructured top-K of weights and activations
CHANNEL = "swat-channel"  # top-K of kernel L1 norms (conv only), activations unstructured
REFRESH = "swat-refresh"  # step stage only: selection every step
SCHEMES = (SCHEME, CHANNEL, REFRESH)
STAGES = ("forward", "front_end", "backward_data", "weight_grad", "backward", "mask_update", "step")
TORCH_TOPK = "torch-topk"
TORCH_KTHVALUE = "torch-kthvalue"
SPARSITIES = {"smoke": (0.9,), "quick": (0.8, 0.9), "full": (0.5, 0.8, 0.9, 0.95)}
PERIODS = (1, 10, 100)


def accepts(case: BenchCase) -> bool:
    if case.scheme not in SCHEMES or case.stage not in STAGES:
        return False
    if case.layer in LAYERS:
        conv = LAYERS[case.layer].kind == "conv"
        if case.scheme == CHANNEL and not conv:
            return False
    if case.scheme == REFRESH and case.stage != "step":
        return False
    return True


def _sparsities(prof: Profile) -> tuple[float, ...]:
    """The profile's (or a --sparsity selection's) sparsities inside (0, 1); SWAT at 0 is dense
    training. A profile without any: SWAT's own list for it."""
    own = tuple(s for s in prof.sparsities if 0.0 < s < 1.0)
    return own or SPARSITIES.get(prof.name, SPARSITIES["quick"])


def cases(prof: Profile) -> Iterator[BenchCase]:
    stages = ("forward", "weight_grad", "mask_update", "step") if prof.name == "smoke" else STAGES
    for layer in prof.layers:
        for scheme in SCHEMES:
            for stage in stages:
                for s in _sparsities(prof):
                    for t in prof.threads:
                        case = BenchCase(SUITE, layer, scheme, stage, s, t)
                        if accepts(case):
                            yield case


def impl_names(case: BenchCase) -> tuple[str, ...]:
    if case.stage == "front_end":
        return (OURS, TORCH_TOPK, TORCH_KTHVALUE)
    if case.stage == "mask_update":
        return (OURS, TORCH_KTHVALUE)
    return (OURS, *dense_impls(LAYERS[case.layer].shape)) if case.layer in LAYERS else (OURS,)


def _torch_topk(t: torch.Tensor, k: int):
    a = t.reshape(-1).abs()
    idx = torch.topk(a, k, sorted=False).indices
    return idx, t.reshape(-1)[idx]


def _torch_kth(t: torch.Tensor, k: int):
    a = t.reshape(-1).abs()
    thr = torch.kthvalue(a, a.numel() - k + 1).values
    return t * (t.abs() >= thr)


def _step(layer, x: torch.Tensor, dy: torch.Tensor):
    xg = x.detach().clone().requires_grad_(True)

    def step():
        xg.grad = None
        layer.weight.grad = None
        layer(xg).backward(dy)
        return xg.grad

    return step


def build(case: BenchCase) -> StageBench:
    if not accepts(case):
        raise Unavailable(f"swat has no {case.scheme} {case.stage} case for {case.layer}")
    shape, x, w, dy, _ = problem_inputs(case)
    s, t = case.sparsity, case.threads
    conv = isinstance(shape, Conv2dShape)
    variant = "channel" if case.scheme == CHANNEL else "unstructured"
    geom = ConvGeometry(shape.stride, shape.padding) if conv else None
    sw, w_thr, passes = build_topk_weight(w, s, variant, threads=t)
    act = sk.compress_activation(x, s, threads=t)
    k_act = keep_count(x.numel(), s)
    wd, ad = sw.density, act.density
    info = {"variant": variant, "weight_density": wd, "act_density": ad, "select_passes": passes,
            "act_bytes": act.nbytes, "act_dense_bytes": act.dense_nbytes,
            "act_memory_reduction": 1.0 - act.nbytes / max(act.dense_nbytes, 1),
            "weight_csr_bytes": sw.tensor_bytes(), "weight_dense_bytes": 4 * w.numel()}
    dense = dense_layouts(shape, x, w, dy)

    def fwd():
        y = sw.forward(x, geom, threads=t)
        return y, sk.compress_activation(x, s, threshold=act.threshold, threads=t)

    def bwd_data():
        return sw.backward_data(dy, tuple(x.shape), geom, threads=t)

    def wgrad():
        if conv:
            return sk.conv2d_weight_grad(act, dy, (shape.kh, shape.kw), shape.stride, shape.padding, threads=t)
        return sk.linear_weight_grad(act, dy, threads=t)

    bwd_data()  # builds the cached transposed structure once (it belongs to the refresh's CSR)
    info["weight_bwd_bytes"] = sw.tensor_bytes()  # CSR + the transposed structure backward-data reads
    info["weight_memory_reduction"] = 1.0 - sw.tensor_bytes() / max(4 * w.numel(), 1)
    eff = {"forward": wd, "backward_data": wd, "weight_grad": ad}
    if case.stage == "front_end":
        return StageBench(
            impls={OURS: lambda: sk.compress_activation(x, s, threads=t), TORCH_TOPK: lambda: _torch_topk(x, k_act),
                   TORCH_KTHVALUE: lambda: _torch_kth(x, k_act)},
            dense_flops=0, effective_flops=0,
            tensor_bytes={OURS: act.nbytes, TORCH_TOPK: 12 * k_act, TORCH_KTHVALUE: 4 * x.numel()},
            info=info, bytes_moved=3 * 4 * x.numel() + act.nbytes)
    if case.stage == "mask_update":
        k_w = keep_count(w.numel(), s)

        def torch_refresh():  # the authors' semantics with torch's selection, same CSR build
            if variant == "unstructured":
                return CSRWeight.from_dense(w, w.abs() >= torch.kthvalue(w.abs().reshape(-1), w.numel() - k_w + 1).values)
            return build_topk_weight(w, s, variant, threads=t)

        return StageBench(impls={OURS: lambda: build_topk_weight(w, s, variant, threads=t),
                                 TORCH_KTHVALUE: torch_refresh},
                          dense_flops=0, effective_flops=0,
                          tensor_bytes={OURS: sw.tensor_bytes(), TORCH_KTHVALUE: sw.tensor_bytes()},
                          info=info, bytes_moved=3 * 4 * w.numel())
    if case.stage == "step":
        period = 1 if case.scheme == REFRESH else 10 ** 9
        kw = dict(weight_sparsity=s, act_sparsity=s, period=period, variant=variant, threads=t)
        if conv:
            dense_layer = torch.nn.Conv2d(shape.cin, shape.cout, (shape.kh, shape.kw), stride=shape.stride,
                                          padding=shape.padding, bias=False)
            with torch.no_grad():
                dense_layer.weight.copy_(w)
            layer = SwatConv2d.from_dense(dense_layer, **kw)
        else:
            dense_layer = torch.nn.Linear(shape.in_features, shape.out_features, bias=False)
            with torch.no_grad():
                dense_layer.weight.copy_(w)
            layer = SwatLinear.from_dense(dense_layer, **kw)
        ours = _step(layer, x, dy)
        ours()  # the first call selects (refresh); the reuse scheme never selects again
        info["period"] = 1 if case.scheme == REFRESH else "inf (thresholds reused)"
        stages = ("forward", "backward_data", "weight_grad")
        return StageBench(impls={OURS: ours, **{n: st["step"] for n, st in dense.items()}},
                          dense_flops=sum(dense_flops(shape, p) for p in stages),
                          effective_flops=round(sum(dense_flops(shape, p) * eff[p] for p in stages)),
                          tensor_bytes={OURS: sw.tensor_bytes() + act.nbytes,
                                        **{n: tensor_bytes(w, x) for n in dense}}, info=info)
    ours = {"forward": fwd, "backward_data": bwd_data, "weight_grad": wgrad,
            "backward": lambda: (bwd_data(), wgrad())}[case.stage]
    parts = ("backward_data", "weight_grad") if case.stage == "backward" else (case.stage,)
    sizes = {"forward": sw.tensor_bytes() + 4 * x.numel(), "backward_data": sw.tensor_bytes() + 4 * dy.numel(),
             "weight_grad": act.nbytes + 4 * dy.numel(), "backward": sw.tensor_bytes() + act.nbytes + 4 * dy.numel()}
    return StageBench(impls={OURS: ours, **{n: st[case.stage] for n, st in dense.items()}},
                      dense_flops=sum(dense_flops(shape, p) for p in parts),
                      effective_flops=round(sum(dense_flops(shape, p) * eff[p] for p in parts)),
                      tensor_bytes={OURS: sizes[case.stage], **{n: tensor_bytes(w, x, dy) for n in dense}}, info=info)
