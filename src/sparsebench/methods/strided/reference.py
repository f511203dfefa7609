"""Intra-kernel strided sparsity (Anwar, Hwang & Sung, "Structured Pruning of Deep Convolutional
Neural Networks", JETC 2017): every kernel that reads input map c keeps only the taps on a
stride-m grid with offset (n_h, n_w) of that map,
    keep(c, i, j)  <=>  (i - n_h[c]) % m == 0  and  (j - n_w[c]) % m == 0,
so in the lowered weight (filters x Cin * kh * kw) whole columns are zero and lowering drops
them: the kept problem is a smaller dense GEMM (the compacted path of SSL's column compaction).
No public code of the authors was found; this follows the paper's definition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def check_stride(m: int, kh: int, kw: int) -> int:
    if isinstance(m, bool) or not isinstance(m, int):
        raise TypeError(f"stride m must be an int, got {type(m).__name__}")
    if m < 1 or m > min(kh, kw):
        raise ValueError(f"stride m must be in [1, {min(kh, kw)}] for a {kh}x{kw} kernel, got {m}")
    return m


def offsets(cin: int, m: int, seed: int = 0) -> torch.Tensor:
    """(cin, 2) random grid offsets (n_h, n_w) in [0, m), one pair per input map."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, m, (cin, 2), generator=gen)


def tap_mask(cin: int, kh: int, kw: int, m: int, offs: torch.Tensor) -> torch.Tensor:
    """(cin, kh, kw) bool: the taps each input map keeps (the same for every filter)."""
    check_stride(m, kh, kw)
    offs = torch.as_tensor(offs)
    if offs.shape != (cin, 2) or bool(((offs < 0) | (offs >= m)).any()):
        raise ValueError(f"offsets must be ({cin}, 2) integers in [0, {m}), got shape {tuple(offs.shape)}")
    i = torch.arange(kh).reshape(1, kh, 1)
    j = torch.arange(kw).reshape(1, 1, kw)
    return ((i - offs[:, 0].reshape(-1, 1, 1)) % m == 0) & ((j - offs[:, 1].reshape(-1, 1, 1)) % m == 0)


def apply(w: torch.Tensor, m: int, offs: torch.Tensor) -> torch.Tensor:
    """The weight with every tap off the grid zeroed (all filters alike)."""
    cout, cin, kh, kw = w.shape
    return w * tap_mask(cin, kh, kw, m, offs).unsqueeze(0).to(w.dtype)


def forward(x: torch.Tensor, w: torch.Tensor, m: int, offs: torch.Tensor, stride: int = 1, padding: int = 0):
    """Reference: the masked dense convolution."""
    return F.conv2d(x, apply(w, m, offs), stride=stride, padding=padding)
