"""Sparse initialization directly in the compressed format: a random mask at the target sparsity,
drawn at the unit level, and values drawn straight into the format's values array. No dense
weight (nor a dense float mask) of the layer is ever allocated: the largest temporaries are the
kept positions (int64 per kept weight) and, at sparsity <= 0.5 on the unstructured scheme, one
byte per weight to take the complement of the drawn zeros.

Values: torch's default conv / linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform
with a = sqrt(5)), drawn from the counter-based stream (sparsebench.rng) at each stored slot.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ... import rng
from ...formats import get_format
from ...formats.block.format import BlockSparseWeight
from ...formats.block.masks import block_mask
from ...formats.filter.masks import filter_mask
from ...formats.pattern.masks import pattern_mask
from ...formats.unstructured.csr import CSRWeight
from . import kernels
from .units import MEST_BLOCK

SCHEMES = ("unstructured", "block", "pattern", "filter")


def check_target(sparsity, name: str = "sparsity") -> float:
    """A MEST target sparsity: a real number in [0, 1) (all-zero layers cannot train)."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.floating)):
        raise ValueError(f"{name} must be a float in [0, 1), got {type(sparsity).__name__} {sparsity!r}")
    s = float(sparsity)
    if not 0.0 <= s < 1.0:  # NaN fails too
        raise ValueError(f"{name} must be in [0, 1), got {sparsity!r}")
    return s


def stream_seed(seed: int, layer: int, purpose: int, counter: int = 0) -> int:
    """A distinct counter-based stream per (run seed, layer, purpose, update number)."""
    x = np.uint64(int(seed) & (2**64 - 1))
    for v in (layer, purpose, counter):
        x = rng.splitmix64(np.asarray([x ^ np.uint64(int(v) & (2**64 - 1))], dtype=np.uint64))[0]
    return int(x)


def _random_positions(n: int, nnz: int, seed: int) -> torch.Tensor:
    """nnz distinct flat positions of [0, n), ascending, uniformly at random, O(nnz) memory when
    nnz < n/2 (the kept ones drawn), else the zeros drawn and complemented (a byte per weight)."""
    empty = torch.zeros(0, dtype=torch.int64)
    if 2 * nnz < n:
        return torch.sort(kernels.grow_units(empty, n, nnz, seed)).values
    zeros = kernels.grow_units(empty, n, n - nnz, seed)
    keep = torch.ones(n, dtype=torch.bool)
    keep[zeros] = False
    return torch.nonzero(keep).flatten()


def _fill_uniform(values: torch.Tensor, bound: float, seed: int) -> None:
    u = torch.from_numpy(rng.uniform(seed, values.numel()))
    with torch.no_grad():
        values.copy_((2.0 * u - 1.0) * bound)


def random_sparse_weight(shape, scheme: str, sparsity: float, *, seed: int = 0, layer: int = 0):
    """A SparseWeight of ``scheme`` holding a random mask at ``sparsity`` with initialized values."""
    s = check_target(sparsity)
    shape = tuple(int(v) for v in shape)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    why = get_format(scheme).refuses(shape, s)
    if why:
        raise ValueError(f"scheme {scheme!r} cannot hold a layer of shape {shape}: {why}")
    n = int(np.prod(shape))
    fan_in = int(np.prod(shape[1:]))
    mseed = stream_seed(seed, layer, 1)
    if scheme == "unstructured":
        nnz = n - int(round(s * n))
        pos = _random_positions(n, nnz, mseed)
        K = fan_in
        sw = CSRWeight.from_indices(pos // K, pos % K, torch.zeros(nnz, dtype=torch.float32), shape)
    elif scheme == "block":
        bm = block_mask(shape, s, block=MEST_BLOCK, weight=None, seed=mseed % (2**31))
        sw = BlockSparseWeight.from_block_mask(bm, None)
    elif scheme == "pattern":
        sw = get_format(scheme).from_mask(pattern_mask(shape, s, weight=None, seed=mseed % (2**31)), None)
    else:
        sw = get_format(scheme).from_mask(filter_mask(shape, s, weight=None, seed=mseed % (2**31)), None)
    _fill_uniform(sw.values, 1.0 / math.sqrt(max(fan_in, 1)), stream_seed(seed, layer, 2))
    pad = sw.positions() < 0
    if bool(pad.any()):  # padding slots of partial edge blocks stay zero
        with torch.no_grad():
            sw.values[pad] = 0.0
    return sw
