"""Per-case stage callables: ours (sparsebench kernels) beside torch-dense and torch-sparse.

Everything a stage needs is prepared here, outside timing; a cost a stage really pays at
training time (layout conversion, lowering) stays inside its callable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import warnings

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight

from ..catalogue import BenchCase
from ..measure import Conv2dShape, dense_flops, effective_flops, tensor_bytes

OURS = "sparsebench"


class Unavailable(Exception):
    """The case cannot run here (scheme or kernel not built, stage not defined): recorded, not fatal."""


@dataclass
class StageBench:
    impls: dict[str, Callable[[], Any]]
    dense_flops: int
    effective_flops: int
    tensor_bytes: dict[str, int]
    info: dict[str, Any] = field(default_factory=dict)
    bytes_moved: int | None = None  # memory-bound stages (front end): bytes read + written


def _inputs(case: BenchCase, seed: int = 0):
    shape = case.layer_spec.shape
    gen = torch.Generator().manual_seed(seed)
    if isinstance(shape, Conv2dShape):
        x = torch.randn(shape.n, shape.cin, shape.h, shape.w, generator=gen)
        w = torch.randn(shape.cout, shape.cin, shape.kh, shape.kw, generator=gen) * (2.0 / shape.k) ** 0.5
        dy = torch.randn(shape.n, shape.cout, shape.ho, shape.wo, generator=gen)
    else:
        x = torch.randn(shape.batch, shape.in_features, generator=gen)
        w = torch.randn(shape.out_features, shape.in_features, generator=gen) * (2.0 / shape.k) ** 0.5
        dy = torch.randn(shape.batch, shape.out_features, generator=gen)
    return shape, x, w, dy, gen


# --- torch baselines ---------------------------------------------------------------------------


def _torch_dense(shape, x, wm, dy) -> dict[str, Callable[[], Any]]:
    if isinstance(shape, Conv2dShape):
        s, p = shape.stride, shape.padding
        stages = {
            "forward": lambda: F.conv2d(x, wm, stride=s, padding=p),
            "backward_data": lambda: conv2d_input(x.shape, wm, dy, stride=s, padding=p),
            "weight_grad": lambda: conv2d_weight(x, wm.shape, dy, stride=s, padding=p),
        }
    else:
        stages = {
            "forward": lambda: F.linear(x, wm),
            "backward_data": lambda: dy @ wm,
            "weight_grad": lambda: dy.t() @ x,
        }
    # torch.optim.SGD's update on the dense weight (momentum 0.9, weight decay 5e-4)
    param = torch.nn.Parameter(wm.clone())
    param.grad = torch.randn_like(wm)
    opt = torch.optim.SGD([param], lr=0.01, momentum=0.9, weight_decay=5e-4)
    opt.step()  # creates the momentum buffer
    stages["update"] = opt.step
    stages["backward"] = _chain(stages["backward_data"], stages["weight_grad"])
    if isinstance(shape, Conv2dShape):
        layer = torch.nn.Conv2d(shape.cin, shape.cout, (shape.kh, shape.kw), stride=shape.stride,
                                padding=shape.padding, bias=False)
    else:
        layer = torch.nn.Linear(shape.in_features, shape.out_features, bias=False)
    with torch.no_grad():
        layer.weight.copy_(wm)
    stages["step"] = _autograd_step(layer, x, dy)
    return stages


def _chain(*fns: Callable[[], Any]) -> Callable[[], Any]:
    """The stages back to back (e.g. backward = backward_data then weight_grad)."""

    def run():
        return [fn() for fn in fns]

    return run


def _autograd_step(layer: torch.nn.Module, x: torch.Tensor, dy: torch.Tensor) -> Callable[[], Any]:
    """Forward + backward of a bias-free layer through autograd: dX and the weight gradient."""
    xg = x.detach().clone().requires_grad_(True)

    def step():
        xg.grad = None
        for p in layer.parameters():
            p.grad = None
        layer(xg).backward(dy)
        return xg.grad

    return step


def _torch_sparse(shape, x, wm, dy) -> dict[str, Callable[[], Any]]:
    """torch.sparse CSR on the lowered problem: what a user would try first."""
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    w2 = wm.reshape(wm.shape[0], -1)
    w_csr = w2.to_sparse_csr()
    wt_csr = w2.t().contiguous().to_sparse_csr()
    mask_csr = (w2 != 0).to(w2.dtype).to_sparse_csr()
    if isinstance(shape, Conv2dShape):
        k, s, p = (shape.kh, shape.kw), shape.stride, shape.padding
        n, cout, ho, wo = dy.shape

        def lowered_x():  # (K, N*L)
            return F.unfold(x, k, padding=p, stride=s).permute(1, 0, 2).reshape(w2.shape[1], -1)

        def lowered_dy():  # (Cout, N*L)
            return dy.permute(1, 0, 2, 3).reshape(cout, -1)

        def forward():
            y = torch.sparse.mm(w_csr, lowered_x())
            return y.reshape(cout, n, ho, wo).permute(1, 0, 2, 3).contiguous()

        def backward_data():
            dxr = torch.sparse.mm(wt_csr, lowered_dy())
            dxr = dxr.reshape(w2.shape[1], n, ho * wo).permute(1, 0, 2)
            return F.fold(dxr, (shape.h, shape.w), k, padding=p, stride=s)

        def weight_grad():
            return torch.sparse.sampled_addmm(mask_csr, lowered_dy(), lowered_x().t(), beta=0.0)

    else:

        def forward():
            return torch.sparse.mm(w_csr, x.t()).t()

        def backward_data():
            return torch.sparse.mm(wt_csr, dy.t()).t()

        def weight_grad():
            return torch.sparse.sampled_addmm(mask_csr, dy.t().contiguous(), x, beta=0.0)

    return {"forward": forward, "backward_data": backward_data, "weight_grad": weight_grad,
            "backward": _chain(backward_data, weight_grad), "step": _chain(forward, backward_data, weight_grad)}


# --- builders per suite ------------------------------------------------------------------------


def _masked_problem(case: BenchCase):
    """Inputs, mask and masked dense weight of a weight-sparse case (deterministic per case, so a
    child process rebuilds exactly the same problem)."""
    from ..sparse import get_scheme

    try:
        scheme = get_scheme(case.scheme)
    except (KeyError, ImportError) as exc:
        raise Unavailable(f"scheme {case.scheme!r} not available: {exc}") from exc
    shape, x, w, dy, gen = _inputs(case)
    if not scheme.supports(tuple(w.shape)):
        raise Unavailable(f"scheme {case.scheme!r} is not defined for weight shape {tuple(w.shape)}")
    mask, reached = scheme.make_mask(w, case.sparsity, by="magnitude", generator=gen)
    return scheme, shape, x, w, dy, mask, reached, w * mask


def mask_digest(mask: torch.Tensor) -> str:
    """Short fingerprint of a mask, to check two processes measured the same one."""
    import hashlib

    return hashlib.sha1(mask.to(torch.bool).contiguous().numpy().tobytes()).hexdigest()[:16]


_STAGE_ACTS = {"forward": "x", "backward_data": "dy", "weight_grad": "x dy", "update": "", "backward": "x dy",
               "step": "x dy"}


def _acts(stage: str, x: torch.Tensor, dy: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return tuple({"x": x, "dy": dy}[a] for a in _STAGE_ACTS[stage].split())


def _weight_sparse(case: BenchCase) -> StageBench:
    from ..sparse import ConvGeometry
    from ..sparse.modules import SparseConv2d, SparseLinear

    scheme, shape, x, w, dy, mask, reached, wm = _masked_problem(case)
    sw = scheme.from_dense(w, mask)
    geom = ConvGeometry(shape.stride, shape.padding) if isinstance(shape, Conv2dShape) else None
    t = case.threads
    grad_values = torch.randn_like(sw.values)
    momentum = torch.zeros_like(sw.values)

    def bdata():
        return sw.backward_data(dy, tuple(x.shape), geom, threads=t)

    def wgrad():
        return sw.weight_grad_sampled(x, dy, geom, threads=t)

    def step():
        # our autograd layer (forward, then weight_grad + backward_data), like torch's and SparseProp's
        if isinstance(shape, Conv2dShape):
            layer = SparseConv2d(shape.cin, shape.cout, shape.kh, shape.stride, shape.padding, bias=False,
                                 scheme=case.scheme, mask=mask, weight=w, threads=t)
        else:
            layer = SparseLinear(shape.in_features, shape.out_features, bias=False, scheme=case.scheme, mask=mask,
                                 weight=w, threads=t)
        return _autograd_step(layer, x, dy)

    ours = {
        "forward": lambda: sw.forward(x, geom, threads=t),
        "backward_data": bdata,
        "weight_grad": wgrad,
        "backward": _chain(bdata, wgrad),
        "update": lambda: sw.sgd_update(grad_values, momentum, lr=0.01, momentum=0.9, weight_decay=5e-4, threads=t),
    }
    if case.stage not in (*ours, "step"):
        raise Unavailable(f"weight-sparse stage {case.stage!r} is not defined")
    impls = {OURS: step() if case.stage == "step" else ours[case.stage],
             "torch-dense": _torch_dense(shape, x, wm, dy)[case.stage]}
    sparse_stages = _torch_sparse(shape, x, wm, dy) if case.stage != "update" else {}
    if case.stage in sparse_stages:
        impls["torch-sparse"] = sparse_stages[case.stage]
    density = 1.0 - reached
    acts = _acts(case.stage, x, dy)
    update = case.stage == "update"
    return StageBench(
        impls=impls,
        dense_flops=dense_flops(shape, case.stage),
        effective_flops=effective_flops(shape, case.stage, weight_density=density),
        tensor_bytes={
            # update holds weights, gradient and momentum: three weight-sized tensors
            OURS: sw.tensor_bytes() + tensor_bytes(*acts) + (tensor_bytes(grad_values, momentum) if update else 0),
            "torch-dense": tensor_bytes(wm, *acts) * (3 if update else 1),
            "torch-sparse": tensor_bytes(wm.reshape(wm.shape[0], -1).to_sparse_csr(), *acts),
        },
        info={"sparsity_reached": reached, "nnz": sw.nnz, "mask_digest": mask_digest(mask)},
    )


def build_peer(case: BenchCase, peer: str = "sparseprop") -> StageBench:
    """The peer's callable beside torch-dense for one case, on the same mask as ours: what the
    peer's child process times interleaved (raises Unavailable if the peer cannot run it)."""
    from ..peers import sparseprop as sp

    if peer != sp.PEER:
        raise Unavailable(f"unknown peer {peer!r}")
    if case.suite != "weight_sparse" or case.scheme != "unstructured" or case.stage not in sp.PEER_STAGES:
        raise Unavailable(f"{peer} has no {case.suite}/{case.scheme}/{case.stage} stage "
                          f"(unstructured weights, stages {', '.join(sp.PEER_STAGES)})")
    _, shape, x, w, dy, mask, reached, wm = _masked_problem(case)
    try:
        peer_impls, info = sp.stage_callables(shape, x, wm, dy)
    except sp.PeerUnavailable as exc:
        raise Unavailable(str(exc)) from exc
    nnz = int(mask.sum())
    acts = _acts(case.stage, x, dy)
    return StageBench(
        impls={peer: peer_impls[case.stage], "torch-dense": _torch_dense(shape, x, wm, dy)[case.stage]},
        dense_flops=dense_flops(shape, case.stage),
        effective_flops=effective_flops(shape, case.stage, weight_density=1.0 - reached),
        tensor_bytes={peer: info["sparseprop_bytes"] + tensor_bytes(*acts), "torch-dense": tensor_bytes(wm, *acts)},
        info={"sparsity_reached": reached, "nnz": nnz, "mask_digest": mask_digest(mask), **info},
    )


def _actgrad(case: BenchCase) -> StageBench:
    """Activation-gradient pruning. scheme "actgrad": the method itself (DBTD + stochastic pruning
    of dO, whose cost is included in every backward stage); scheme "actgrad-exact": a dO with
    exactly a fraction p of zeros and no front end, i.e. the kernels at the density p implies."""
    from .. import actgrad as ag
    from .. import kernels
    from ..methods import actgrad as ref

    shape, x, w, dy, gen = _inputs(case)
    p, t, seed = case.sparsity, case.threads, 1234
    conv = isinstance(shape, Conv2dShape)
    n = dy.numel()
    if case.stage == "front_end":
        if case.scheme != "actgrad":
            raise Unavailable("the front end belongs to the method (scheme 'actgrad') only")
        grad = ag.prune(dy, p, seed, threads=t)
        return StageBench(
            impls={OURS: lambda: ag.prune(dy, p, seed, threads=t),
                   "torch-reference": lambda: ref.stochastic_prune(dy, ref.dbtd_threshold(dy, p), seed)},
            dense_flops=0, effective_flops=0,
            tensor_bytes={OURS: tensor_bytes(dy, grad.bits, grad.values, grad.rowptr),
                          "torch-reference": tensor_bytes(dy) * 2},
            info={"sparsity_reached": 1.0 - grad.nnz / max(n, 1), "nnz": grad.nnz, "rate": p},
            bytes_moved=2 * 4 * n + tensor_bytes(grad.bits, grad.values, grad.rowptr),  # read g twice, write dO
        )
    if case.scheme == "actgrad":
        front = lambda: ag.prune(dy, p, seed, threads=t)  # noqa: E731  (paid by every stage)
    elif case.scheme == "actgrad-exact":
        kept = torch.rand(dy.shape, generator=gen) >= p
        fixed = ag.compress_reference(torch.where(kept, dy, torch.zeros_like(dy)))
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

    dense = _torch_dense(shape, x, w, dy)
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
        impls={OURS: ours[case.stage], "torch-dense": baseline[case.stage]},
        dense_flops=sum(dense_flops(shape, st) for st in stages),
        effective_flops=sum(effective_flops(shape, st, grad_density=density) for st in stages),
        tensor_bytes={OURS: tensor_bytes(*acts, grad.bits, grad.values, grad.rowptr),
                      "torch-dense": tensor_bytes(*acts, dy)},
        info={"sparsity_reached": 1.0 - density, "nnz": grad.nnz, "rate": p},
    )


def impl_names(case: BenchCase) -> tuple[str, ...]:
    """The implementations build(case) times, known without building anything (asv skips the rest
    cheaply). Peers are separate: see build_peer."""
    if case.suite == "actgrad":
        return (OURS, "torch-reference") if case.stage == "front_end" else (OURS, "torch-dense")
    return (OURS, "torch-dense") + (("torch-sparse",) if case.stage != "update" else ())


BUILDERS = {"weight_sparse": _weight_sparse, "actgrad": _actgrad}


def build(case: BenchCase) -> StageBench:
    return BUILDERS[case.suite](case)
