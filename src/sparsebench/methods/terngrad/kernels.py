"""Wrappers over the C++ TernGrad kernels (numpy or CPU torch in; torch in -> torch out). Every call
takes ``isa=None, threads=0``; bad input raises TypeError / ValueError naming the argument.

Input policy: gradients must be float32, C-contiguous, on the CPU (never copied); an empty
gradient is valid (scaler 0, zero bytes). NaN / Inf: ``scaler`` raises ValueError naming how many
values are non-finite (TernGrad's scaler would be meaningless), so nothing is ever encoded from
them; ``ternarize_pack`` itself only accepts a finite scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ... import _kernels
from .reference import MODES


def _check_grad(g: Any, name: str = "g") -> None:
    if isinstance(g, torch.Tensor):
        if g.device.type != "cpu":
            raise ValueError(f"{name} must be on the CPU, got device {g.device}")
        if g.dtype != torch.float32:
            raise TypeError(f"{name} must be a float32 gradient, got {g.dtype}")
        if not g.is_contiguous():
            raise ValueError(f"{name} must be contiguous (call .contiguous() explicitly; never copied silently)")
    elif isinstance(g, np.ndarray):
        if g.dtype != np.float32:
            raise TypeError(f"{name} must be a float32 gradient, got {g.dtype}")
    else:
        raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(g).__name__}")


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return int(seed)


def _check_mode(mode: Any, c: Any) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not (0 < float(c) < float("inf")):
        raise ValueError(f"c must be a finite number > 0, got {c!r}")


def scaler(g: Any, mode: str = "max", c: float = 2.5, *, isa: str | None = None, threads: int = 0) -> float:
    """The per-layer scaler s (float32 value): max|g|, or min(c * std(g), max|g|)."""
    _check_grad(g)
    _check_mode(mode, c)
    s, bad = _kernels.terngrad_scaler(g, mode, float(c), isa=isa, threads=threads)
    if bad:
        raise ValueError(f"g contains {bad} NaN/Inf values; TernGrad refuses non-finite gradients")
    return s


def ternarize_pack(g: Any, s: float, seed: int, *, out: Any = None, isa: str | None = None,
                   threads: int = 0) -> Any:
    """Stochastic ternarization of g with scaler s fused with 2-bit packing: (n + 3) // 4 bytes."""
    _check_grad(g)
    if isinstance(s, bool) or not isinstance(s, (int, float, np.floating)):
        raise TypeError(f"s must be a float, got {type(s).__name__}")
    if not (0.0 <= float(s) < float("inf")):
        raise ValueError(f"s must be finite and >= 0, got {s}")
    res = _kernels.ternarize_pack(g, float(s), _check_seed(seed), out=out, isa=isa, threads=threads)
    if out is not None:
        return out
    return torch.from_numpy(res) if isinstance(g, torch.Tensor) else res


def decode(packed: Any, n: int, scale: float, *, offset: int = 0, out: Any = None, accumulate: bool = False,
           isa: str | None = None, threads: int = 0) -> Any:
    """out (+)= float32(sum over rows of the ternary codes) * scale; ``packed`` holds one row of
    bytes or (ranks, bytes), the values starting at byte ``offset`` of each row."""
    if isinstance(packed, torch.Tensor) and packed.dtype != torch.uint8:
        raise TypeError(f"packed must be uint8, got {packed.dtype}")
    for name, v in (("n", n), ("offset", offset)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if out is not None:
        _check_grad(out, "out")
    res = _kernels.terngrad_decode(packed, int(n), float(scale), offset=int(offset), out=out,
                                   accumulate=bool(accumulate), isa=isa, threads=threads)
    if out is not None:
        return out
    return torch.from_numpy(res) if isinstance(packed, torch.Tensor) else res


def encode(g: Any, seed: int, mode: str = "max", c: float = 2.5, *, isa: str | None = None,
           threads: int = 0) -> tuple[Any, float]:
    """(packed bytes, scaler): the scaler pass, then the fused ternarize + pack pass."""
    s = scaler(g, mode, c, isa=isa, threads=threads)
    return ternarize_pack(g, s, seed, isa=isa, threads=threads), s
