"""Per-layer, per-stage time of a training step from torch.profiler ranges.

While profiling, every leaf conv / linear layer is bracketed: forward hooks open and close
``sblayer::<name>::forward``; identity autograd functions on its output and input open
``sblayer::<name>::backward`` when its output gradient arrives and close it when its input
gradient is done (the first layer's closes when backward returns). Inside, the sparse layers'
own ranges (sparsebench.profiling: ``sparsebench::backward_data``, ``::weight_grad[_sampled]``,
``::front_end``) split the method's backward; a dense layer's backward is torch's own
convolution_backward / mm ops, which compute dX and dW in one call, so it is reported as the
composite stage ``backward``. The step's own ranges (``sparsebench::update``, ``::mask_update``)
and the rest (batch norm, activations, pooling, loss, residual adds) complete the step.
The hooks exist only during the profiled steps; the timed steps run without them.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from typing import Callable

import torch
from torch import nn

from ..profiling import PREFIX
from .figures import COLUMNS, SHORT, plot, table, totals  # noqa: F401  (re-exported)

LAYER = "sblayer::"
STEP = PREFIX + "step"


class _Open:
    """Open record_function handles of the layers, by key."""

    def __init__(self) -> None:
        self.handles: dict[str, object] = {}

    def open(self, key: str) -> None:
        if key not in self.handles:
            self.handles[key] = torch.ops.profiler._record_function_enter_new(key, None)

    def close(self, key: str) -> None:
        h = self.handles.pop(key, None)
        if h is not None:
            torch.ops.profiler._record_function_exit._RecordFunction(h)

    def close_all(self) -> None:
        for key in list(self.handles):
            self.close(key)


class _Exit(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y, key, book):
        ctx.key, ctx.book = key, book
        return y.clone()  # a fresh tensor: in-place activations after the layer stay legal

    @staticmethod
    def backward(ctx, g):
        ctx.book.open(ctx.key)
        return g, None, None


class _Enter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, key, book):
        ctx.key, ctx.book = key, book
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        ctx.book.close(ctx.key)
        return g, None, None


@contextmanager
def bracketed(model: nn.Module, layer_names: list[str]):
    """Hooks that bracket each named layer with profiler ranges; yields the handle book."""
    book = _Open()
    handles = []
    for name in layer_names:
        mod = model.get_submodule(name)
        fkey, bkey = f"{LAYER}{name}::forward", f"{LAYER}{name}::backward"

        def pre(m, args, fkey=fkey, bkey=bkey):
            book.open(fkey)
            x = args[0]
            if isinstance(x, torch.Tensor) and x.requires_grad:
                return (_Enter.apply(x, bkey, book), *args[1:])
            return None

        def post(m, args, out, fkey=fkey, bkey=bkey):
            book.close(fkey)
            return _Exit.apply(out, bkey, book) if out.requires_grad else out

        handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    try:
        yield book
    finally:
        for h in handles:
            h.remove()
        book.close_all()


def profile_steps(model: nn.Module, layer_names: list[str], step: Callable[[], None], steps: int) -> dict:
    """Run ``step`` (which must close ranges via the yielded book after backward) ``steps``
    times under torch.profiler; the mean per-step breakdown {"layers": {name: {stage: s}},
    "step": {column: s}, "profiled_step_s": s}."""
    from torch.profiler import ProfilerActivity, profile

    with bracketed(model, layer_names) as book:
        step(book)  # warm the hooks
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                step(book)
    return summarize(prof.events(), layer_names, steps)


def summarize(events, layer_names: list[str], steps: int) -> dict:
    """Aggregate profiler events into per-layer stage times (seconds per step)."""
    layers: dict[str, dict[str, float]] = {n: defaultdict(float) for n in layer_names}
    step_cols: dict[str, float] = defaultdict(float)
    spans = []  # (start, end, layer, "forward"|"backward", thread)
    inner = []  # (start, end, stage, thread)
    step_total = 0.0
    for e in events:
        start, end = e.time_range.start, e.time_range.end
        if e.name.startswith(LAYER):
            name, _, phase = e.name[len(LAYER):].rpartition("::")
            spans.append((start, end, name, phase, e.thread))
        elif e.name == STEP:
            step_total += (end - start)
        elif e.name.startswith(PREFIX):
            inner.append((start, end, e.name[len(PREFIX):], e.thread))
    for start, end, name, phase, _ in spans:
        if name in layers:
            layers[name][phase] += (end - start)
    for start, end, stage, thread in inner:
        owner = next((s for s in spans if s[4] == thread and s[0] <= start and end <= s[1]), None)
        if owner is None:
            step_cols[stage] += end - start
        else:
            layers[owner[2]][stage] += end - start
    out_layers = {}
    for name, d in layers.items():
        d = dict(d)
        bwd = d.pop("backward", 0.0)
        split = sum(v for k, v in d.items() if k not in ("forward",))
        if split > 0:
            d["other"] = max(bwd - split, 0.0)
        else:
            d["backward"] = bwd
        out_layers[name] = {k: v / steps * 1e-6 for k, v in d.items()}
    cols = {k: v / steps * 1e-6 for k, v in step_cols.items()}
    total = step_total / steps * 1e-6
    attributed = sum(sum(d.values()) for d in out_layers.values()) + sum(cols.values())
    cols["other"] = max(total - attributed, 0.0)
    return {"layers": out_layers, "step": cols, "profiled_step_s": total}


