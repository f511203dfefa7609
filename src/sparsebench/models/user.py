"""A user's own model for `sparsebench train` / `sparsebench shapes`: ``--model package.module:factory``
names a zero-argument callable that returns an nn.Module, and ``--input-shape C,H,W`` the shape
of one sample. The class count is read from the model's output on a dry forward, so labels fit it.
"""

from __future__ import annotations

import importlib
import os
import sys
from functools import lru_cache

import torch
from torch import nn

from ..catalogue import Network

DEFAULT_BATCH = 32


def is_factory(spec: str) -> bool:
    """True for ``package.module:factory`` (a zoo model name has no colon)."""
    return isinstance(spec, str) and ":" in spec


def parse_input_shape(text) -> tuple[int, int, int]:
    """``"3,32,32"`` (or a sequence) -> (3, 32, 32); raises ValueError naming --input-shape."""
    if isinstance(text, str):
        parts = [p.strip() for p in text.replace("x", ",").split(",") if p.strip()]
    else:
        parts = list(text)
    try:
        dims = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"--input-shape must be C,H,W integers, got {text!r}") from None
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"--input-shape must be three positive integers C,H,W (one sample), got {text!r}")
    return dims  # type: ignore[return-value]


def load_factory(spec: str):
    """The callable ``spec`` names; the working directory is importable, as for ``python -m``."""
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr or ":" in attr:
        raise ValueError(f"--model {spec!r}: expected package.module:factory")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(mod_name)
    except Exception as exc:  # a user's module may raise anything while importing
        raise ValueError(f"--model {spec!r}: cannot import module {mod_name!r}: {type(exc).__name__}: {exc}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"--model {spec!r}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"--model {spec!r}: {attr!r} is not callable")
    return obj


def build(spec: str, seed: int = 0) -> nn.Module:
    """A fresh model from the user's factory, torch's default init under ``seed``."""
    factory = load_factory(spec)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        try:
            model = factory()
        except Exception as exc:
            raise ValueError(f"--model {spec!r}: the factory raised {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"--model {spec!r}: the factory returned {type(model).__name__}, not a torch.nn.Module")
    return model


@lru_cache(maxsize=16)
def network(spec: str, input_shape: tuple[int, int, int] | None) -> Network:
    """The Network entry of a user model: its input shape, the default batch and the class
    count its output has (a dry forward on a batch of 2 zeros, which also checks the shape)."""
    if input_shape is None:
        raise ValueError(f"--input-shape C,H,W is required with --model {spec!r} (a user model)")
    shape = parse_input_shape(input_shape)
    model = build(spec)
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, *shape))
    except Exception as exc:
        raise ValueError(f"--input-shape {','.join(map(str, shape))}: the model {spec!r} fails on it: "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 2:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"--model {spec!r}: expected (batch, classes) logits, got {got}")
    return Network(spec, shape, DEFAULT_BATCH, int(out.shape[1]), f"user model {spec}")
