"""SparseConv2d and SparseLinear: torch modules that train on any scheme's stage kernels.

The trainable parameter is the scheme's stored ``values`` (the compressed weights), never a
dense weight: forward, backward-data and the weight gradient at kept positions all run on the
sparse kernels. Any torch optimizer updates ``values`` in place; the scheme sees the change
because its ``values`` *is* the parameter's storage.
Agreement with torch autograd of the masked dense layer: see tests/test_sparse_modules.py
(float32 sums reordered: rtol/atol from Comparison.float32_reduction of the reduction length).

Masks are mutable: ``update_mask`` / ``prune_grow`` rebuild the format on a new mask (surviving
values kept, grown ones set) and keep ``values`` the same nn.Parameter object, remapping the
per-position optimizer state (torch optimizers' state, or buffers such as the sparse SGD momentum)
so training continues across the change; see tests/test_mask_update.py.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from . import available_formats, get_format
from ..memlimit import available_memory_bytes
from ..profiling import stage_range
from .base import ConvGeometry, SparseWeight
from .mutate import rebuild, remap_tensor


class _SparseStages(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: torch.Tensor, x: torch.Tensor, sw: SparseWeight, geom: ConvGeometry | None,
                threads: int) -> torch.Tensor:
        ctx.sw, ctx.geom, ctx.threads = sw, geom, threads
        ctx.save_for_backward(x)
        return sw.forward(x, geom, threads=threads)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        (x,) = ctx.saved_tensors
        sw, geom, t = ctx.sw, ctx.geom, ctx.threads
        dy = dy.contiguous()  # autograd may hand over an expanded / strided gradient
        dvalues = dx = None
        if ctx.needs_input_grad[0]:
            with stage_range("weight_grad_sampled"):
                dvalues = sw.weight_grad_sampled(x, dy, geom, threads=t)
        if ctx.needs_input_grad[1]:
            with stage_range("backward_data"):
                dx = sw.backward_data(dy, tuple(x.shape), geom, threads=t)
        return dvalues, dx, None, None, None


def _check_input(x: torch.Tensor, ndim: int, channels: int, layer: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{layer}: input must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype != torch.float32:
        raise TypeError(f"{layer}: input must be float32, got {x.dtype}")
    if x.device.type != "cpu":
        raise ValueError(f"{layer}: input must be on the CPU, got {x.device}")
    if x.dim() != ndim or x.shape[1] != channels:
        raise ValueError(f"{layer}: input must be {ndim}-D with {channels} channels/features at dim 1, "
                         f"got shape {tuple(x.shape)}")
    # Activations are consumed in place by the kernels: an explicit, documented copy when strided,
    # unless the copy would not fit (an expanded view can stand for far more memory than it holds).
    if x.is_contiguous():
        return x
    need, free = x.numel() * x.element_size(), available_memory_bytes()
    if need > free // 2:
        raise ValueError(f"{layer}: input is a non-contiguous view whose contiguous copy needs {need / 2**30:.2f} GiB, "
                         f"more than half the {free / 2**30:.2f} GiB available; pass a contiguous tensor")
    return x.contiguous()


def _check_sizes(layer: str, **sizes: int) -> None:
    """Layer sizes are positive ints (torch accepts 0 channels; no kernel or reference does)."""
    for name, v in sizes.items():
        low = 0 if name == "padding" else 1
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{layer}: {name} must be an int >= {low}, got {v!r}")


class _SparseLayer(nn.Module):
    def _init_sparse(self, weight: torch.Tensor, scheme: str | None, sparsity: float | None,
                     mask: torch.Tensor | None, by: str, threads: int, generator: torch.Generator | None) -> None:
        scheme = scheme or available_formats()[0]  # default: the finest-grained format
        fmt = get_format(scheme)
        why = fmt.refuses(tuple(weight.shape), sparsity if mask is None else None)
        if why:
            raise ValueError(f"scheme {scheme!r} cannot hold this layer: {why}")
        w = weight.detach().float().contiguous()
        if mask is None:
            if sparsity is None:
                raise ValueError("give either sparsity or mask")
            self.sw = fmt.from_mask(fmt.make_mask(w, sparsity, by=by, generator=generator), w)
        elif isinstance(mask, torch.Tensor):
            if mask.shape != weight.shape or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape {tuple(weight.shape)}, "
                                 f"got {mask.dtype} {tuple(mask.shape)}")
            self.sw = fmt.from_dense_mask(w, mask)
        else:  # the format's own mask object
            if tuple(mask.shape) != tuple(weight.shape):
                raise ValueError(f"mask shape {tuple(mask.shape)} != weight shape {tuple(weight.shape)}")
            self.sw = fmt.from_mask(mask, w)
        self.scheme = scheme
        self.sparsity = 1.0 - self.sw.density
        self.threads = threads
        self.values = nn.Parameter(self.sw.values)  # shares storage with the format
        if self.values.data_ptr() != self.sw.values.data_ptr():
            raise RuntimeError("scheme values must be shareable with the parameter")

    def _mask_object(self, fmt, mask):
        """The format's Mask for ``mask`` (its Mask object, or a dense bool tensor); ValueError."""
        shape = tuple(self.sw.shape)
        if isinstance(mask, torch.Tensor):
            if mask.dtype != torch.bool or tuple(mask.shape) != shape:
                raise ValueError(f"mask must be a bool tensor of shape {shape}, got {mask.dtype} {tuple(mask.shape)}")
            try:
                if fmt.mask_from_dense is not None:
                    return fmt.mask_from_dense(mask.contiguous(), self.sw)
                return fmt.from_dense_mask(torch.zeros(shape), mask.contiguous()).mask_object()
            except (TypeError, IndexError, RuntimeError) as e:
                raise ValueError(f"scheme {self.scheme!r} cannot hold this mask: {e}") from e
        if not hasattr(mask, "shape") or not hasattr(mask, "dense"):
            raise ValueError(f"mask must be a {self.scheme} Mask object or a bool tensor, got {type(mask).__name__}")
        if tuple(mask.shape) != shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} != weight shape {shape}")
        return mask

    def update_mask(self, mask: Any, *, optimizer: torch.optim.Optimizer | None = None,
                    state: tuple[torch.Tensor, ...] | list[torch.Tensor] = (),
                    grown: float | torch.Tensor = 0.0) -> dict:
        """Change the layer's mask. ``mask``: the format's Mask object or a bool tensor of the dense
        weight shape. Surviving positions keep their values, grown ones start at ``grown`` (a float
        or one float32 per grown slot, storage order). ``self.values`` stays the same nn.Parameter
        (its data is the new format's values; grad cleared); every tensor in
        ``optimizer.state[self.values]`` shaped like the old values, and every tensor in ``state``,
        is remapped (grown slots -> 0). ValueError on a bad mask / state / grown, layer unchanged.

        Returns {"kept", "pruned", "grown": counts in weights (positions), "src": the remap
        (new slot -> old slot or -1), "state": the remapped ``state`` tensors, in order}."""
        fmt = get_format(self.scheme)
        old = self.sw
        mobj = self._mask_object(fmt, mask)
        old_shape = tuple(self.values.shape)
        state = tuple(state)
        for i, t in enumerate(state):
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != old_shape:
                raise ValueError(f"state[{i}] must be a tensor shaped like values {old_shape}, got "
                                 f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
        try:
            new_sw, src = rebuild(fmt, old, mobj, grown=grown)
        except (TypeError, AttributeError, IndexError, RuntimeError) as e:
            raise ValueError(f"scheme {self.scheme!r} cannot hold this mask: {e}") from e
        # Nothing has changed so far; commit.
        return self.install(new_sw, src, optimizer=optimizer, state=state)

    def install(self, new_sw: SparseWeight, src: torch.Tensor, *, optimizer: torch.optim.Optimizer | None = None,
                state: tuple[torch.Tensor, ...] = ()) -> dict:
        """Commit a new SparseWeight of the same scheme and shape, built by the caller (e.g. a
        method's own rebuild kernel), with ``src`` (new slot -> old slot or -1): the remap of
        update_mask, without building a Mask. Same return value as update_mask."""
        old = self.sw
        old_shape = tuple(self.values.shape)
        if tuple(new_sw.shape) != tuple(old.shape) or new_sw.scheme != old.scheme:
            raise ValueError(f"new weight must be {old.scheme} {tuple(old.shape)}, got {new_sw.scheme} {tuple(new_sw.shape)}")
        if src.dtype != torch.int64 or tuple(src.shape) != tuple(new_sw.values.shape):
            raise ValueError(f"src must be int64 shaped like the new values {tuple(new_sw.values.shape)}")
        new_state = tuple(remap_tensor(t, src) for t in state)
        if optimizer is not None and self.values in optimizer.state:
            st = optimizer.state[self.values]
            for key, v in list(st.items()):
                if isinstance(v, torch.Tensor) and tuple(v.shape) == old_shape:
                    st[key] = remap_tensor(v, src)
        old_real = int((old.positions() >= 0).sum())
        survived = int((src >= 0).sum())
        new_real = int((new_sw.positions() >= 0).sum())
        self.swap_weight(new_sw)
        return {"kept": new_real, "pruned": old_real - survived, "grown": new_real - survived, "src": src,
                "state": new_state}

    def swap_weight(self, new_sw: SparseWeight) -> None:
        """Make ``new_sw`` the layer's weight, its values the parameter's storage (shared, not
        copied); the optimizer state is the caller's (install remaps it)."""
        old_shape = tuple(self.values.shape)
        self.sw = new_sw
        if tuple(new_sw.values.shape) != old_shape:
            # autograd caches a leaf's gradient accumulator with the leaf's shape, and a graph still
            # referenced (e.g. the last step's loss) keeps it alive; torch drops it only when the
            # dtype changes, so pass through an empty float64 tensor first
            self.values.data = torch.empty(0, dtype=torch.float64)
        self.values.data = new_sw.values
        self.values.grad = None
        if self.values.data_ptr() != new_sw.values.data_ptr():
            raise RuntimeError("scheme values must be shareable with the parameter")
        self.sparsity = 1.0 - new_sw.density

    def prune_grow(self, fraction: float, *, optimizer: torch.optim.Optimizer | None = None,
                   state: tuple[torch.Tensor, ...] | list[torch.Tensor] = (), generator: torch.Generator | None = None,
                   scores: torch.Tensor | None = None) -> dict:
        """MEST step: the format's prune_grow (drop round(fraction * kept units) lowest-scored units,
        grow as many unseen ones at random) then update_mask (grown weights start at 0)."""
        fmt = get_format(self.scheme)
        if fmt.prune_grow is None:
            raise ValueError(f"scheme {self.scheme!r} has no prune_grow")
        return self.update_mask(fmt.prune_grow(self.sw, fraction, generator=generator, scores=scores),
                                optimizer=optimizer, state=state)

    def _adopt(self, sw: SparseWeight, threads: int) -> None:
        """Take an already compressed weight (built without a dense tensor) as the layer's weight."""
        self.sw = sw
        self.scheme = sw.scheme
        self.sparsity = 1.0 - sw.density
        self.threads = threads
        self.values = nn.Parameter(sw.values)
        if self.values.data_ptr() != sw.values.data_ptr():
            raise RuntimeError("scheme values must be shareable with the parameter")

    def dense_weight(self) -> torch.Tensor:
        """The equivalent masked dense weight (for checks and export; not used in training)."""
        return self.sw.to_dense()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}scheme={self.scheme}, sparsity={self.sparsity:.3f}, nnz={self.sw.nnz}"


class SparseConv2d(_SparseLayer):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, *, scheme: str | None = None, sparsity: float | None = 0.9,
                 mask: torch.Tensor | None = None, weight: torch.Tensor | None = None, by: str = "magnitude",
                 threads: int = 0, generator: torch.Generator | None = None) -> None:
        super().__init__()
        _check_sizes("SparseConv2d", in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                     stride=stride, padding=padding)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.geometry = ConvGeometry(stride, padding)
        if weight is None:
            weight = torch.empty(out_channels, in_channels, kernel_size, kernel_size)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
        self._init_sparse(weight, scheme, sparsity, mask, by, threads, generator)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    @classmethod
    def from_dense(cls, conv: nn.Conv2d, **kw: Any) -> "SparseConv2d":
        if conv.groups != 1 or conv.dilation != (1, 1) or conv.kernel_size[0] != conv.kernel_size[1]:
            raise ValueError("SparseConv2d supports square kernels, groups=1, dilation=1")
        if conv.stride[0] != conv.stride[1] or not isinstance(conv.padding, tuple) or conv.padding[0] != conv.padding[1]:
            raise ValueError("SparseConv2d supports symmetric integer stride and padding")
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0], conv.padding[0],
                    bias=conv.bias is not None, weight=conv.weight.detach(), **kw)
        if conv.bias is not None:
            layer.bias.data.copy_(conv.bias.detach())
        return layer

    @classmethod
    def from_sparse(cls, sw: SparseWeight, stride: int = 1, padding: int = 0, bias: bool = True,
                    threads: int = 0) -> "SparseConv2d":
        """A layer on an already compressed (Cout, Cin, k, k) weight: no dense weight is ever made."""
        if len(sw.shape) != 4 or sw.shape[2] != sw.shape[3]:
            raise ValueError(f"sw must hold a square-kernel conv weight, got shape {tuple(sw.shape)}")
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.out_channels, layer.in_channels, layer.kernel_size = int(sw.shape[0]), int(sw.shape[1]), int(sw.shape[2])
        layer.geometry = ConvGeometry(stride, padding)
        layer._adopt(sw, threads)
        layer.bias = nn.Parameter(torch.zeros(layer.out_channels)) if bias else None
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_input(x, 4, self.in_channels, "SparseConv2d")
        y = _SparseStages.apply(self.values, x, self.sw, self.geometry, self.threads)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)


class SparseLinear(_SparseLayer):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, scheme: str | None = None,
                 sparsity: float | None = 0.9, mask: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                 by: str = "magnitude", threads: int = 0, generator: torch.Generator | None = None) -> None:
        super().__init__()
        _check_sizes("SparseLinear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        if weight is None:
            weight = torch.empty(out_features, in_features)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
        self._init_sparse(weight, scheme, sparsity, mask, by, threads, generator)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    @classmethod
    def from_dense(cls, linear: nn.Linear, **kw: Any) -> "SparseLinear":
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None,
                    weight=linear.weight.detach(), **kw)
        if linear.bias is not None:
            layer.bias.data.copy_(linear.bias.detach())
        return layer

    @classmethod
    def from_sparse(cls, sw: SparseWeight, bias: bool = True, threads: int = 0) -> "SparseLinear":
        """A layer on an already compressed (out, in) weight: no dense weight is ever made."""
        if len(sw.shape) != 2:
            raise ValueError(f"sw must hold an (out, in) weight, got shape {tuple(sw.shape)}")
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.out_features, layer.in_features = int(sw.shape[0]), int(sw.shape[1])
        layer._adopt(sw, threads)
        layer.bias = nn.Parameter(torch.zeros(layer.out_features)) if bias else None
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_input(x, 2, self.in_features, "SparseLinear")
        y = _SparseStages.apply(self.values, x, self.sw, None, self.threads)
        return y if self.bias is None else y + self.bias
