"""The dense and torch.sparse baselines every case is compared with (design/measurement.md):
``torch-dense`` (PyTorch's own CPU kernels, oneDNN / MKL: what users run today) and
``torch-sparse`` (torch.sparse CSR on the lowered problem: what a user would try first), as
stage callables keyed by the names of sparsebench.stages, plus the shared problem inputs.

Everything a stage needs is prepared outside timing; a cost a stage really pays at training time
(layout conversion, lowering) stays inside its callable.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight

from ..measure import Conv2dShape

TORCH_DENSE = "torch-dense"  # NCHW tensors (conv), row-major (linear)
TORCH_DENSE_CL = "torch-dense-channels_last"  # the same ops on channels_last tensors (conv only)
TORCH_SPARSE = "torch-sparse"
# every torch-dense implementation and the memory layout it runs on; speedups are taken against
# the faster of those timed in a case unless a layout is asked for (runners.inprocess)
DENSE_LAYOUTS = {TORCH_DENSE: "nchw", TORCH_DENSE_CL: "channels_last"}
LINEAR_LAYOUT = "row-major"  # a 2-D problem has one layout: TORCH_DENSE on a linear layer
BASELINE_LAYOUTS = ("best", "nchw", "channels_last")  # what `--baseline-layout` may ask for


def problem_inputs(case, seed: int = 0):
    """(shape, x, w, dy, generator) of a case: deterministic per case, so a child process
    rebuilds exactly the same problem."""
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



def dense_impls(shape) -> tuple[str, ...]:
    """The torch-dense implementations a layer is timed with: NCHW and channels_last for conv,
    one for linear."""
    return (TORCH_DENSE, TORCH_DENSE_CL) if isinstance(shape, Conv2dShape) else (TORCH_DENSE,)


def weight_stage_dense_impls(case) -> tuple[str, ...]:
    """torch-dense in every layout that applies to a weight-sparse stage case: NCHW and
    channels_last for a conv's GEMM stages; one for the update and mask change (weight only)."""
    from .. import catalogue

    if case.stage in ("update", "mask_update") or not catalogue.has_layer(case.layer):
        return (TORCH_DENSE,)
    return dense_impls(catalogue.layer(case.layer).shape)


def dense_layouts(shape, x, wm, dy) -> dict[str, dict[str, Callable[[], Any]]]:
    """impl name -> torch_dense stages, one entry per layout in dense_impls(shape); the layout
    conversion happens here, outside timing."""
    return {name: torch_dense(shape, x, wm, dy, layout=DENSE_LAYOUTS[name]) for name in dense_impls(shape)}


def torch_dense(shape, x, wm, dy, *, layout: str = "nchw") -> dict[str, Callable[[], Any]]:
    """Stage callables of torch's own dense kernels; ``layout="channels_last"`` converts the conv
    tensors (x, weight, dY) to channels_last first (outside timing)."""
    if layout not in ("nchw", "channels_last"):
        raise ValueError(f"layout must be 'nchw' or 'channels_last', got {layout!r}")
    if layout == "channels_last":
        if not isinstance(shape, Conv2dShape):
            raise ValueError("channels_last applies to conv layers only")
        cl = torch.channels_last
        x, wm, dy = (t.contiguous(memory_format=cl) for t in (x, wm, dy))
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
    # masked dense training computes the full dW whether or not the method samples it
    stages["weight_grad_sampled"] = stages["weight_grad"]
    stages["backward"] = chain(stages["backward_data"], stages["weight_grad"])
    if isinstance(shape, Conv2dShape):
        layer = torch.nn.Conv2d(shape.cin, shape.cout, (shape.kh, shape.kw), stride=shape.stride,
                                padding=shape.padding, bias=False)
    else:
        layer = torch.nn.Linear(shape.in_features, shape.out_features, bias=False)
    with torch.no_grad():
        layer.weight.copy_(wm)
    if layout == "channels_last":
        layer = layer.to(memory_format=torch.channels_last)
    stages["step"] = autograd_step(layer, x, dy)
    return stages


def chain(*fns: Callable[[], Any]) -> Callable[[], Any]:
    """The stages back to back (e.g. backward = backward_data then weight_grad)."""

    def run():
        return [fn() for fn in fns]

    return run


def autograd_step(layer: torch.nn.Module, x: torch.Tensor, dy: torch.Tensor) -> Callable[[], Any]:
    """Forward + backward of a bias-free layer through autograd: dX and the weight gradient."""
    xg = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)

    def step():
        xg.grad = None
        for p in layer.parameters():
            p.grad = None
        layer(xg).backward(dy)
        return xg.grad

    return step


def torch_sparse(shape, x, wm, dy) -> dict[str, Callable[[], Any]]:
    """torch.sparse CSR on the lowered problem: what a user would try first (its weight gradient
    is sampled at the mask: sampled_addmm)."""
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

    return {"forward": forward, "backward_data": backward_data, "weight_grad_sampled": weight_grad,
            "backward": chain(backward_data, weight_grad), "step": chain(forward, backward_data, weight_grad)}
