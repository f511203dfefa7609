"""SWAT layers: SwatConv2d / SwatLinear keep the dense weight as the trainable parameter; every
training forward rebuilds TopK(W) in CSR (the mask_update stage: the exact selection every
``period`` steps, the threshold reused in between) and runs

  forward          y = conv(x, TopK(W)) on the CSR direct-conv kernels
  stored           X~ = TopK(|x|) compressed (row CSR; the activation threshold follows the same period)
  weight gradient  dW = conv2d_weight(X~, dy) on the sparse-input kernel (dense dW: the full gradient)
  backward-data    dx = conv2d_input(TopK(W), dy) on the CSR kernels

Selection rule and NaN policy: see kernels.py. Variants: "unstructured" (per-tensor top-K of
|W|) and "channel" (top-K of the per-(out, in) kernel L1 norms, whole kernels kept; activations
stay unstructured, as the authors' structured_channel). ``apply_swat`` converts a model, first
conv / linear layer dense as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from ...formats.base import ConvGeometry
from ...formats.unstructured.csr import CSRWeight
from ...profiling import stage_range
from . import kernels as sk
from .reference import keep_count, kernel_l1_norms

VARIANTS = ("unstructured", "channel")


def check_sparsity(s: float, name: str) -> float:
    if isinstance(s, bool) or not isinstance(s, (int, float)):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(s).__name__}")
    if not 0.0 <= float(s) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {s}")
    return float(s)


def check_period(period: int) -> int:
    if isinstance(period, bool) or not isinstance(period, int):
        raise TypeError(f"period must be an int >= 1, got {type(period).__name__}")
    if period < 1:
        raise ValueError(f"period must be >= 1 (steps between threshold refreshes), got {period}")
    return period


def _csr_from_rows(rp: torch.Tensor, col: torch.Tensor, vals: torch.Tensor, shape) -> CSRWeight:
    return CSRWeight(rp.to(torch.int32), col, vals, tuple(shape), validate=False)


def build_topk_weight(w: torch.Tensor, sparsity: float, variant: str, *, threshold: float | None = None,
                      threads: int = 0) -> tuple[CSRWeight, float, int]:
    """(TopK(W) in CSR, threshold, selection passes): ``threshold`` None selects exactly k
    (the refresh); else |W| >= threshold (unstructured) or kernel L1 norm >= threshold (channel)."""
    w = w.detach()
    rows = w.shape[0]
    K = w[0].numel() if rows else 0
    if variant == "unstructured":
        w2 = w.reshape(rows, K)
        if threshold is None:
            sel, (rp, col, vals) = sk.topk_compress(w2, keep_count(w.numel(), sparsity), max(K, 1), name="weight",
                                                    threads=threads)
            return _csr_from_rows(rp, col, vals, w.shape), sel.threshold, sel.passes
        rp, col, vals = sk.compress(w2, max(K, 1), threshold, -1, threads=threads)
        return _csr_from_rows(rp, col, vals, w.shape), float(threshold), 0
    if variant != "channel" or w.dim() != 4:
        raise ValueError(f"variant must be one of {VARIANTS} (channel: conv weights only), got {variant!r}")
    cout, cin = w.shape[:2]
    taps = w.shape[2] * w.shape[3]
    norms = kernel_l1_norms(w).contiguous()
    passes = 0
    if threshold is None:
        sel, (rp, kcol, _) = sk.topk_compress(norms, keep_count(norms.numel(), sparsity), cin,
                                              name="weight kernel L1 norms", threads=threads)
        threshold, passes = sel.threshold, sel.passes
    else:
        rp, kcol, _ = sk.compress(norms, cin, threshold, -1, threads=threads)
    # kept kernel (o, i) -> its taps i*taps + t, values gathered from the dense weight
    counts = (rp[1:] - rp[:-1]) * taps
    cols = (kcol.to(torch.int64)[:, None] * taps + torch.arange(taps)[None, :]).reshape(-1)
    row_ptr = torch.zeros(cout + 1, dtype=torch.int64)
    row_ptr[1:] = torch.cumsum(counts, 0)
    rows_of = torch.repeat_interleave(torch.arange(cout), counts)
    vals = w.reshape(cout, cin * taps)[rows_of, cols].contiguous()
    return _csr_from_rows(row_ptr, cols.to(torch.int32), vals, w.shape), float(threshold), passes


class _SwatFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, x, layer):
        sw, geom, t = layer.sw, layer.geometry, layer.threads
        with stage_range("forward"):
            y = sw.forward(x, geom, threads=t)
        with stage_range("front_end"):  # TopK(|x|): the activation kept for the weight gradient
            act = sk.compress_activation(x, layer.act_sparsity, threshold=layer.act_threshold_now(), name="input",
                                         threads=t)
        layer.note_activation(act)
        ctx.act, ctx.sw, ctx.geom, ctx.t, ctx.x_shape = act, sw, geom, t, tuple(x.shape)
        ctx.kernel_hw = tuple(weight.shape[2:]) if weight.dim() == 4 else None
        return y

    @staticmethod
    def backward(ctx, dy):
        dy = dy.contiguous()
        dw = dx = None
        if ctx.needs_input_grad[0]:
            with stage_range("weight_grad"):
                if ctx.kernel_hw is not None:
                    dw = sk.conv2d_weight_grad(ctx.act, dy, ctx.kernel_hw, ctx.geom.stride, ctx.geom.padding,
                                               threads=ctx.t)
                else:
                    dw = sk.linear_weight_grad(ctx.act, dy, threads=ctx.t)
        if ctx.needs_input_grad[1]:
            with stage_range("backward_data"):
                dx = ctx.sw.backward_data(dy, ctx.x_shape, ctx.geom, threads=ctx.t)
        ctx.act = None  # the stored activation is freed with the graph
        return dw, dx, None


class _SwatLayer(nn.Module):
    """Shared state: sparsities, variant, refresh period, thresholds, the CSR of TopK(W)."""

    def _init_swat(self, weight_sparsity, act_sparsity, period, variant, threads):
        self.weight_sparsity = check_sparsity(weight_sparsity, "weight_sparsity")
        self.act_sparsity = check_sparsity(act_sparsity, "act_sparsity")
        self.period = check_period(period)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant
        self.threads = int(threads)
        self.steps = 0  # training forwards so far
        self.refreshes = 0
        self.w_threshold: float | None = None
        self.a_threshold: float | None = None
        self.sw: CSRWeight | None = None
        self.last_act: dict = {}

    def refresh_due(self) -> bool:
        return self.w_threshold is None or (self.training and self.steps % self.period == 0)

    def act_threshold_now(self) -> float | None:
        """None: select exactly on this batch (refresh step); else the threshold of the last refresh."""
        return None if self._select_now else self.a_threshold

    def note_activation(self, act) -> None:
        if self._select_now:
            self.a_threshold = act.threshold
        self.last_act = {"nnz": act.nnz, "numel": act.numel, "bytes": act.nbytes, "dense_bytes": act.dense_nbytes}

    def mask_update(self) -> None:
        """Rebuild TopK(W) from the current dense weight (selection on refresh steps)."""
        with stage_range("mask_update"):
            due = self.refresh_due()
            self.sw, self.w_threshold, _ = build_topk_weight(
                self.weight, self.weight_sparsity, self.variant, threshold=None if due else self.w_threshold,
                threads=self.threads)
        self._select_now = due or self.a_threshold is None
        if due and self.training:
            self.refreshes += 1

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dtype != torch.float32 or x.device.type != "cpu":
            raise TypeError(f"{type(self).__name__}: input must be a float32 CPU tensor")
        x = x.contiguous()
        self.mask_update()
        if self.training:
            self.steps += 1
        if torch.is_grad_enabled() and (self.weight.requires_grad or x.requires_grad):
            y = _SwatFn.apply(self.weight, x, self)
        else:
            y = self.sw.forward(x, self.geometry, threads=self.threads)
        return y

    def stats(self) -> dict:
        w = self.sw
        return {"variant": self.variant, "weight_sparsity_target": self.weight_sparsity,
                "act_sparsity_target": self.act_sparsity, "period": self.period, "refreshes": self.refreshes,
                "weight_density": w.density if w is not None else None,
                "weight_csr_bytes": w.tensor_bytes() if w is not None else None,
                "weight_dense_bytes": 4 * self.weight.numel(),
                "act_density": (self.last_act["nnz"] / max(self.last_act["numel"], 1)) if self.last_act else None,
                "act_bytes": self.last_act.get("bytes"), "act_dense_bytes": self.last_act.get("dense_bytes")}


class SwatConv2d(_SwatLayer):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, *,
                 weight_sparsity=0.9, act_sparsity=0.9, period=10, variant="unstructured", threads=0):
        super().__init__()
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *k))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.geometry = ConvGeometry(int(stride), int(padding))
        self._init_swat(weight_sparsity, act_sparsity, period, variant, threads)

    @classmethod
    def from_dense(cls, conv: nn.Conv2d, **kw) -> "SwatConv2d":
        if conv.groups != 1 or tuple(conv.dilation) != (1, 1) or isinstance(conv.padding, str) \
                or conv.stride[0] != conv.stride[1] or conv.padding[0] != conv.padding[1]:
            raise ValueError("SwatConv2d holds groups=1, dilation=1 convolutions with square stride and padding")
        m = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride[0], conv.padding[0],
                conv.bias is not None, **kw)
        with torch.no_grad():
            m.weight.copy_(conv.weight)
            if conv.bias is not None:
                m.bias.copy_(conv.bias)
        return m

    def forward(self, x):
        if x.dim() != 4 or x.shape[1] != self.weight.shape[1]:
            raise ValueError(f"SwatConv2d: input must be (N, {self.weight.shape[1]}, H, W), got {tuple(x.shape)}")
        y = self._run(x)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)


class SwatLinear(_SwatLayer):
    def __init__(self, in_features, out_features, bias=True, *, weight_sparsity=0.9, act_sparsity=0.9, period=10,
                 variant="unstructured", threads=0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.geometry = None
        # the channel variant is conv-only: a linear layer takes unstructured top-K
        self._init_swat(weight_sparsity, act_sparsity, period, "unstructured", threads)

    @classmethod
    def from_dense(cls, lin: nn.Linear, **kw) -> "SwatLinear":
        kw = {**kw, "variant": "unstructured"}
        m = cls(lin.in_features, lin.out_features, lin.bias is not None, **kw)
        with torch.no_grad():
            m.weight.copy_(lin.weight)
            if lin.bias is not None:
                m.bias.copy_(lin.bias)
        return m

    def forward(self, x):
        if x.dim() != 2 or x.shape[1] != self.weight.shape[1]:
            raise ValueError(f"SwatLinear: input must be (B, {self.weight.shape[1]}), got {tuple(x.shape)}")
        y = self._run(x)
        return y if self.bias is None else y + self.bias


def apply_swat(model: nn.Module, weight_sparsity: float, act_sparsity: float, *, period: int = 10,
               variant: str = "unstructured", threads: int = 0, first_dense: bool = True) -> nn.Module:
    """Every nn.Conv2d / nn.Linear replaced by its SWAT twin in place, except the first one
    (module order) when ``first_dense``, as in the paper."""
    check_sparsity(weight_sparsity, "weight_sparsity"), check_sparsity(act_sparsity, "act_sparsity")
    check_period(period)
    leaves = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    kw = dict(weight_sparsity=weight_sparsity, act_sparsity=act_sparsity, period=period, variant=variant,
              threads=threads)
    for i, (name, m) in enumerate(leaves):
        if first_dense and i == 0:
            continue
        parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
        twin = SwatConv2d.from_dense(m, **kw) if isinstance(m, nn.Conv2d) else SwatLinear.from_dense(m, **kw)
        setattr(parent, name.rsplit(".", 1)[-1], twin)
    return model


def swat_stats(model: nn.Module) -> dict:
    return {name: m.stats() for name, m in model.named_modules() if isinstance(m, _SwatLayer)}
