"""Sparse initialization directly in the compressed format: a random mask at the target sparsity,
drawn at the unit level, and values drawn straight into the format's values array. No dense
weight (nor a dense float mask) of the layer is ever allocated. Unstructured: the CSR comes
straight from kernels.random_csr (one bit per weight for the drawn set, then row_ptr and int32
columns), the values are drawn in chunks: no position list, no int64 array per kept weight.

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


FILL_CHUNK = 1 << 16  # values drawn per chunk (the uniform draw's index and hash temporaries scale with it)


def _fill_uniform(values: torch.Tensor, bound: float, seed: int) -> None:
    """values[i] = (2 u_i - 1) * bound, u_i = rng.uniform(seed, .)[i], drawn in chunks."""
    n = values.numel()
    with torch.no_grad():
        for a in range(0, n, FILL_CHUNK):
            u = torch.from_numpy(rng.uniform(seed, min(FILL_CHUNK, n - a), start=a))
            values[a:a + u.numel()].copy_((2.0 * u - 1.0) * bound)


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
        if nnz >= 2**31:
            raise ValueError(f"sparsity {s}: a layer of shape {shape} would store {nnz} weights, more than the "
                             f"int32 CSR holds (2**31 - 1)")
        # nnz distinct positions, O(nnz) memory beyond one bit per weight (kernels.random_csr)
        rp, col = kernels.random_csr(shape[0], fan_in, nnz, mseed)
        sw = CSRWeight(rp, col, torch.zeros(nnz, dtype=torch.float32), shape, validate=False)
    elif scheme == "block":
        bm = block_mask(shape, s, block=MEST_BLOCK, weight=None, seed=mseed % (2**31))
        sw = BlockSparseWeight.from_block_mask(bm, None)
    elif scheme == "pattern":
        sw = get_format(scheme).from_mask(pattern_mask(shape, s, weight=None, seed=mseed % (2**31)), None)
    else:
        sw = get_format(scheme).from_mask(filter_mask(shape, s, weight=None, seed=mseed % (2**31)), None)
    _fill_uniform(sw.values, 1.0 / math.sqrt(max(fan_in, 1)), stream_seed(seed, layer, 2))
    if scheme == "unstructured":
        return sw  # a CSR has no padding slots
    pad = sw.positions() < 0
    if bool(pad.any()):  # padding slots of partial edge blocks stay zero
        with torch.no_grad():
            sw.values[pad] = 0.0
    return sw
