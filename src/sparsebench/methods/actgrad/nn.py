"""Training integration: conv / linear layers whose backward runs backward-data and
weight-gradient on the sparse-dO kernels, with the activation gradient pruned (DBTD threshold +
unbiased stochastic pruning, Ye et al. 2020) where the paper prunes it:

    model = apply_actgrad_pruning(model, p=0.9, seed=0)   # swaps nn.Conv2d / nn.ReLU in place

Which gradient is pruned (``placement``, per conv layer):

- ``"conv_output"`` (Conv-BN-ReLU structures, and any conv not followed by a ReLU): the gradient
  at the conv output, dO, is pruned in the conv's backward and handed to the kernels compressed.
- ``"relu_output"`` (Conv-ReLU structures): the gradient arriving at the ReLU output (the input
  gradient of the next structure) is pruned before the ReLU backward (``PrunedReLU``), so the
  conv's dO carries both ReLU's zeros and the pruning's; the conv then only compresses dO (DBTD
  on a dO that is already mostly ReLU zeros would compute a small tau and prune little).
- ``"auto"`` (default): detected per conv from its next sibling in an ``nn.Sequential``
  (BatchNorm -> conv_output, ReLU -> relu_output); convs outside a Sequential, or followed by
  anything else, get conv_output. ``placement`` may also be a dict {conv module name: placement}.

Each pruning point draws its seed per backward call from (base seed, layer index, step), so
repeated steps use fresh randomness and a run is reproducible. ``last_grad`` keeps the
SparseGrad the kernels consumed in the latest backward and ``density_stats()`` the density
reached (latest and mean over backward calls), per layer (``actgrad_stats(model)``).
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
            sg = layer.front_end(dy.contiguous())
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
            sg = layer.front_end(dy.contiguous())
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


CONV_OUTPUT = "conv_output"
RELU_OUTPUT = "relu_output"
PLACEMENTS = ("auto", CONV_OUTPUT, RELU_OUTPUT)


def compress(g: torch.Tensor, *, threads: int = 0):
    """The compressed form of a gradient as it is (no pruning): tau = 0 keeps every value, and
    exact zeros stay out of the bitmap."""
    return kernels.prune_compress(g, 0.0, 0, threads=threads)


class _PrunedMixin:
    def _init_pruning(self, p: float, seed: int, layer_id: int, threads: int, prune: bool = True) -> None:
        self.p = kernels.check_rate(p)
        self.seed, self.layer_id, self.threads, self.step = int(seed), int(layer_id), int(threads), 0
        self.prune = bool(prune)  # False: dO arrives pruned (relu_output placement), only compress it
        self.placement = CONV_OUTPUT if prune else RELU_OUTPUT
        self.last_grad = None
        self._density_sum, self._density_n = 0.0, 0

    def next_seed(self) -> int:
        s = _mix(self.seed, self.layer_id, self.step)
        self.step += 1
        return s

    def front_end(self, dy: torch.Tensor):
        sg = kernels.prune(dy, self.p, self.next_seed(), threads=self.threads) if self.prune \
            else compress(dy, threads=self.threads)
        self.last_grad = sg
        self._density_sum += sg.density
        self._density_n += 1
        return sg

    def density_stats(self) -> dict:
        """The density of the dO the kernels consumed: latest backward and mean over all."""
        last = self.last_grad.density if self.last_grad is not None else None
        return {"placement": self.placement, "p": self.p, "density_last": last,
                "density_mean": self._density_sum / self._density_n if self._density_n else None,
                "backward_calls": self._density_n}


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
    def from_conv(cls, conv: nn.Conv2d, p: float, seed: int = 0, layer_id: int = 0, threads: int = 0,
                  prune: bool = True):
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.__dict__.update({k: v for k, v in conv.__dict__.items()})
        new._check()
        new._init_pruning(p, seed, layer_id, threads, prune)
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


class _PruneGradFn(torch.autograd.Function):
    """Identity forward; backward prunes the incoming gradient (dense in, dense pruned out)."""

    @staticmethod
    def forward(ctx, x, module):
        ctx.module = module
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        m = ctx.module
        g = g.contiguous()
        tau = kernels.dbtd_threshold(g, m.p, threads=m.threads)
        pruned, nnz = kernels.stochastic_prune(g, tau, m.next_seed(), threads=m.threads)
        density = nnz / max(g.numel(), 1)
        m.last_density = density
        m._density_sum += density
        m._density_n += 1
        return pruned, None


class PrunedReLU(nn.ReLU):
    """nn.ReLU whose backward first prunes the gradient arriving at its output (DBTD + stochastic
    pruning): the relu_output placement of a Conv-ReLU structure."""

    def __init__(self, p: float = 0.9, seed: int = 0, layer_id: int = 0, threads: int = 0):
        super().__init__()
        self.p = kernels.check_rate(p)
        self.seed, self.layer_id, self.threads, self.step = int(seed), int(layer_id), int(threads), 0
        self.last_density = None
        self._density_sum, self._density_n = 0.0, 0

    next_seed = _PrunedMixin.next_seed

    def forward(self, x):
        y = super().forward(x)
        return _PruneGradFn.apply(y, self) if torch.is_grad_enabled() and y.requires_grad else y

    def density_stats(self) -> dict:
        """The density of the pruned ReLU-output gradient (before the ReLU backward)."""
        return {"placement": "relu_output (pruned gradient at the ReLU output)", "p": self.p,
                "density_last": self.last_density,
                "density_mean": self._density_sum / self._density_n if self._density_n else None,
                "backward_calls": self._density_n}


def _eligible_conv(m: nn.Module) -> bool:
    return type(m) is nn.Conv2d and m.groups == 1 and tuple(m.dilation) == (1, 1) and m.padding_mode == "zeros" \
        and not isinstance(m.padding, str)


def structure_of(parent: nn.Module, name: str) -> str:
    """'conv-bn-relu', 'conv-relu' or 'conv' for the child ``name`` of ``parent``, from its next
    sibling when parent is an nn.Sequential (data flows in order there only)."""
    if not isinstance(parent, nn.Sequential):
        return "conv"
    names = [n for n, _ in parent.named_children()]
    i = names.index(name)
    nxt = getattr(parent, names[i + 1]) if i + 1 < len(names) else None
    if isinstance(nxt, nn.modules.batchnorm._BatchNorm):
        return "conv-bn-relu"
    if type(nxt) is nn.ReLU:
        return "conv-relu"
    return "conv"


def apply_actgrad_pruning(model: nn.Module, p: float, seed: int = 0, *, linear: bool = False,
                          threads: int = 0, placement="auto") -> nn.Module:
    """Replace every eligible nn.Conv2d (and nn.Linear if linear=True) in model, in place, pruning
    where the paper prunes (module docstring): ``placement`` "auto" (detect Conv-BN-ReLU vs
    Conv-ReLU), "conv_output", "relu_output", or {conv name: placement}. relu_output needs the
    conv's next sibling in an nn.Sequential to be an nn.ReLU (it is replaced by PrunedReLU);
    where it is not, the conv output is pruned. Linear layers always prune their output gradient."""
    counter = [0]

    def wanted(full: str, parent: nn.Module, name: str) -> str:
        want = placement.get(full, "auto") if isinstance(placement, dict) else placement
        if want not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS} (or a dict of them), got {want!r}")
        structure = structure_of(parent, name)
        if want == "auto":
            return RELU_OUTPUT if structure == "conv-relu" else CONV_OUTPUT
        if want == RELU_OUTPUT and structure != "conv-relu":
            return CONV_OUTPUT  # no ReLU right after it: nothing else to prune
        return want

    def visit(mod: nn.Module, prefix: str) -> None:
        names = [n for n, _ in mod.named_children()]
        for i, name in enumerate(names):
            child = getattr(mod, name)
            full = f"{prefix}{name}"
            if _eligible_conv(child):
                where = wanted(full, mod, name)
                setattr(mod, name, PrunedConv2d.from_conv(child, p, seed, counter[0], threads,
                                                          prune=where == CONV_OUTPUT))
                counter[0] += 1
                if where == RELU_OUTPUT:
                    setattr(mod, names[i + 1], PrunedReLU(p, seed, counter[0], threads))
                    counter[0] += 1
            elif linear and type(child) is nn.Linear:
                setattr(mod, name, PrunedLinear.from_linear(child, p, seed, counter[0], threads))
                counter[0] += 1
            elif not isinstance(child, PrunedReLU):
                visit(child, full + ".")

    visit(model, "")
    return model


def actgrad_stats(model: nn.Module) -> dict[str, dict]:
    """module name -> density reached (latest and mean) and placement of every pruning point."""
    return {name: m.density_stats() for name, m in model.named_modules()
            if isinstance(m, (PrunedConv2d, PrunedLinear, PrunedReLU))}
