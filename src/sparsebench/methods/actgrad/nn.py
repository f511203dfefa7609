"""Training integration: conv / linear layers whose backward prunes the incoming output
gradient (DBTD threshold + unbiased stochastic pruning, Ye et al. 2020) and runs backward-data
and weight-gradient on the sparse-dO kernels.

    model = apply_actgrad_pruning(model, p=0.9, seed=0)   # swaps nn.Conv2d / nn.Linear in place

Each layer draws its seed per backward call from (base seed, layer index, step), so repeated
steps use fresh randomness and a run is reproducible. ``last_grad`` keeps the SparseGrad of the
latest backward (its sparsity reached, for reports and tests).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...profiling import stage_range
from . import kernels

_MASK64 = (1 << 64) - 1


def _mix(*parts: int) -> int:
    z = 0x9E3779B97F4A7C15
    for x in parts:
        z = (z ^ (int(x) & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        z ^= z >> 31
    return z


class _PrunedConv2dFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, layer, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.layer, ctx.stride, ctx.padding, ctx.has_bias = layer, stride, padding, bias is not None
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        layer = ctx.layer
        with stage_range("front_end"):
            sg = kernels.prune(dy.contiguous(), layer.p, layer.next_seed(), threads=layer.threads)
        layer.last_grad = sg
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            with stage_range("backward_data"):
                dx = kernels.conv2d_backward_data(weight.detach().contiguous(), sg, tuple(x.shape[2:]), ctx.stride,
                                                  ctx.padding, threads=layer.threads)
        if ctx.needs_input_grad[1]:
            with stage_range("weight_grad"):
                dw = kernels.conv2d_weight_grad(x.detach().contiguous(), sg, tuple(weight.shape[2:]), ctx.stride,
                                                ctx.padding, threads=layer.threads)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            n, cout = sg.shape[:2]
            db = sg.row_sums().reshape(n, cout).sum(0)
        return dx, dw, db, None, None, None


class _PrunedLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, layer):
        ctx.save_for_backward(x, weight)
        ctx.layer, ctx.has_bias = layer, bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        layer = ctx.layer
        with stage_range("front_end"):
            sg = kernels.prune(dy.contiguous(), layer.p, layer.next_seed(), threads=layer.threads)
        layer.last_grad = sg
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            with stage_range("backward_data"):
                dx = kernels.linear_backward_data(weight.detach().contiguous(), sg, threads=layer.threads)
        if ctx.needs_input_grad[1]:
            with stage_range("weight_grad"):
                dw = kernels.linear_weight_grad(x.detach().contiguous(), sg, threads=layer.threads)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = sg.to_dense().sum(0)
        return dx, dw, db, None


class _PrunedMixin:
    def _init_pruning(self, p: float, seed: int, layer_id: int, threads: int) -> None:
        self.p = kernels.check_rate(p)
        self.seed, self.layer_id, self.threads, self.step = int(seed), int(layer_id), int(threads), 0
        self.last_grad = None

    def next_seed(self) -> int:
        s = _mix(self.seed, self.layer_id, self.step)
        self.step += 1
        return s


class PrunedConv2d(nn.Conv2d, _PrunedMixin):
    """nn.Conv2d (groups 1, dilation 1, zero padding) with activation-gradient pruning in backward."""

    def __init__(self, *args, p: float = 0.9, seed: int = 0, layer_id: int = 0, threads: int = 0, **kw):
        super().__init__(*args, **kw)
        self._check()
        self._init_pruning(p, seed, layer_id, threads)

    def _check(self) -> None:
        if self.groups != 1 or tuple(self.dilation) != (1, 1) or self.padding_mode != "zeros":
            raise ValueError("PrunedConv2d supports groups=1, dilation=1, padding_mode='zeros' only")
        if isinstance(self.padding, str):
            raise ValueError("PrunedConv2d needs numeric padding")

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, p: float, seed: int = 0, layer_id: int = 0, threads: int = 0):
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.__dict__.update({k: v for k, v in conv.__dict__.items()})
        new._check()
        new._init_pruning(p, seed, layer_id, threads)
        return new

    def forward(self, x):
        if not torch.is_grad_enabled():
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        return _PrunedConv2dFn.apply(x, self.weight, self.bias, self, tuple(self.stride), tuple(self.padding))


class PrunedLinear(nn.Linear, _PrunedMixin):
    """nn.Linear with activation-gradient pruning of its output gradient in backward (2-D input)."""

    def __init__(self, *args, p: float = 0.9, seed: int = 0, layer_id: int = 0, threads: int = 0, **kw):
        super().__init__(*args, **kw)
        self._init_pruning(p, seed, layer_id, threads)

    @classmethod
    def from_linear(cls, lin: nn.Linear, p: float, seed: int = 0, layer_id: int = 0, threads: int = 0):
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.__dict__.update({k: v for k, v in lin.__dict__.items()})
        new._init_pruning(p, seed, layer_id, threads)
        return new

    def forward(self, x):
        if not torch.is_grad_enabled() or x.dim() != 2:
            return F.linear(x, self.weight, self.bias)
        return _PrunedLinearFn.apply(x, self.weight, self.bias, self)


def apply_actgrad_pruning(model: nn.Module, p: float, seed: int = 0, *, linear: bool = False,
                          threads: int = 0) -> nn.Module:
    """Replace every eligible nn.Conv2d (and nn.Linear if linear=True) in model, in place."""
    counter = [0]

    def visit(mod: nn.Module) -> None:
        for name, child in list(mod.named_children()):
            if type(child) is nn.Conv2d and child.groups == 1 and tuple(child.dilation) == (1, 1) \
                    and child.padding_mode == "zeros" and not isinstance(child.padding, str):
                setattr(mod, name, PrunedConv2d.from_conv(child, p, seed, counter[0], threads))
                counter[0] += 1
            elif linear and type(child) is nn.Linear:
                setattr(mod, name, PrunedLinear.from_linear(child, p, seed, counter[0], threads))
                counter[0] += 1
            else:
                visit(child)

    visit(model)
    return model
