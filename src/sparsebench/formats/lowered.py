"""Compaction of a structured-sparse conv weight into a smaller dense convolution, shared by the
methods whose structure removes whole rows (filters) and columns (filter shapes) of the lowered
weight (SSL's learned groups, intra-kernel strided sparsity): zero rows and zero columns are
removed, and what stays is one dense problem. Two paths, chosen from the structure:

  channels  every kept column belongs to a wholly kept input channel: gather those channels
            (index_select; skipped when all are kept) and run torch's conv on the compact weight
            (kept filters x kept channels x kh x kw);
  lowered   any other column set: a kernel gathers only the kept im2col rows (gather_cols;
            the C++ gather lives in kernels/ssl, the family it was written for), then one GEMM
            per sample, W' (R', K') @ X' (K', Ho * Wo), written straight into the NCHW output.

The output holds the kept filters only, (N, R', Ho, Wo): the next layer's compaction drops the
matching input channels (``expand=True`` scatters them back to Cout channels with zeros, i.e. the
removed filters' bias-only outputs are not computed). Every cost, gathers included, is inside
``forward`` so a benchmark times the whole convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _kernels


def structure(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept rows, kept columns) of a weight: rows with any nonzero; columns of the lowered
    weight (Cin * kh * kw, or in_features) nonzero in a kept row."""
    m = w.reshape(w.shape[0], -1) != 0
    rows = torch.nonzero(m.any(dim=1)).reshape(-1)
    cols = torch.nonzero(m[rows].any(dim=0)).reshape(-1) if rows.numel() else rows
    return rows, cols


def gather_cols(x: torch.Tensor, cols: torch.Tensor, kh: int, kw: int, stride: int = 1, padding: int = 0, *,
                out: torch.Tensor | None = None, isa=None, threads: int = 0) -> torch.Tensor:
    """(N, len(cols), Ho * Wo) im2col rows of the kept columns (c * kh * kw + i * kw + j)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError("x must be a 4-D torch tensor (N, C, H, W)")
    if not isinstance(cols, torch.Tensor) or cols.dtype != torch.int32:
        raise TypeError("cols must be an int32 torch tensor")
    ho = (x.shape[2] + 2 * padding - kh) // stride + 1
    wo = (x.shape[3] + 2 * padding - kw) // stride + 1
    if out is None:
        out = torch.empty(x.shape[0], cols.numel(), max(ho, 0) * max(wo, 0))
    _kernels.ssl_gather_cols(x, cols, kh=kh, kw=kw, stride=stride, padding=padding, out=out, isa=isa,
                             threads=threads)
    return out


class CompactConv2d:
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1, padding: int = 0,
                 *, threads: int = 0, isa: str | None = None, layout: str = "nchw") -> None:
        if not isinstance(weight, torch.Tensor) or weight.dim() != 4 or weight.dtype != torch.float32:
            raise ValueError("weight must be a 4-D float32 tensor (Cout, Cin, kh, kw)")
        cout, cin, kh, kw = weight.shape
        rows, cols = structure(weight)
        if rows.numel() == 0:
            raise ValueError("weight: every output channel is zero; nothing to compact (the output is the bias alone)")
        self.shape, self.stride, self.padding = tuple(weight.shape), stride, padding
        if layout not in ("nchw", "channels_last"):
            raise ValueError(f"layout must be 'nchw' or 'channels_last', got {layout!r}")
        self.kh, self.kw, self.threads, self.isa = kh, kw, threads, isa
        self.rows = rows
        taps = kh * kw
        chan_kept = torch.zeros(cin * taps, dtype=torch.bool)
        chan_kept[cols] = True
        chan_kept = chan_kept.reshape(cin, taps)
        whole = chan_kept.all(dim=1) | ~chan_kept.any(dim=1)
        self.mode = "channels" if bool(whole.all()) else "lowered"
        self.bias = None if bias is None else bias[rows].contiguous()
        if self.mode == "channels":
            self.chans = torch.nonzero(chan_kept.any(dim=1)).reshape(-1)
            self.all_chans = self.chans.numel() == cin
            self.weight = weight[rows][:, self.chans].contiguous()
            if layout == "channels_last":  # the compact conv on channels_last activations (oneDNN's faster form for some shapes)
                self.weight = self.weight.contiguous(memory_format=torch.channels_last)
        else:
            if layout != "nchw":
                raise ValueError("layout: the lowered path (columns removed inside channels) reads NCHW input only")
            self.cols = cols.to(torch.int32)
            self.weight = weight.reshape(cout, -1)[rows][:, cols.long()].contiguous()
        self.layout = layout
        self.kept_rows, self.kept_cols = rows.numel(), cols.numel()  # kept_cols: columns of the lowered weight

    @property
    def flop_fraction(self) -> float:
        """Multiply-adds kept, as a fraction of the full layer's."""
        cout, cin, kh, kw = self.shape
        return (self.kept_rows * self.kept_cols) / (cout * cin * kh * kw)

    def forward(self, x: torch.Tensor, *, expand: bool = False) -> torch.Tensor:
        if self.mode == "channels":
            xs = x if self.all_chans else x.index_select(1, self.chans)
            y = F.conv2d(xs, self.weight, self.bias, stride=self.stride, padding=self.padding)
        else:
            cols = gather_cols(x, self.cols, self.kh, self.kw, self.stride, self.padding, isa=self.isa,
                                       threads=self.threads)
            n = x.shape[0]
            ho = (x.shape[2] + 2 * self.padding - self.kh) // self.stride + 1
            wo = (x.shape[3] + 2 * self.padding - self.kw) // self.stride + 1
            y = torch.empty(n, self.kept_rows, ho, wo)
            yv = y.view(n, self.kept_rows, ho * wo)
            for i in range(n):
                if self.bias is None:
                    torch.mm(self.weight, cols[i], out=yv[i])
                else:
                    torch.addmm(self.bias.unsqueeze(1), self.weight, cols[i], out=yv[i])
        if not expand:
            return y
        full = y.new_zeros(y.shape[0], self.shape[0], y.shape[2], y.shape[3])
        full[:, self.rows] = y
        return full

    __call__ = forward
