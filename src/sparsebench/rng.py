"""Counter-based RNG and deterministic reductions, mirrored bit for bit by kernels/common.

The C++ kernels draw the uniform for element ``i`` as a pure function of ``(seed, i)``; this
module computes the same numbers with vectorized numpy so a reference implementation and its
kernel agree exactly for the same seed, whatever the ISA variant or thread count.
Algorithm (see kernels/common/rng.hpp)::

    key = splitmix64(seed ^ (hi32(i) * 0xD1B54A32D192ED03))
    x   = fmix32(((lo32(i) ^ lo32(key)) * 0x9E3779B1) ^ hi32(key))
    u   = (x >> 8) * 2**-24
"""

from __future__ import annotations

import numpy as np

_U64 = np.uint64
_U32 = np.uint32
_MASK64 = (1 << 64) - 1


def splitmix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer on uint64 arrays (wrap-around arithmetic)."""
    z = z.astype(_U64) + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def fmix32(x: np.ndarray) -> np.ndarray:
    """murmur3 32-bit finalizer on uint32 arrays."""
    x = x ^ (x >> _U32(16))
    x = x * _U32(0x85EBCA6B)
    x = x ^ (x >> _U32(13))
    x = x * _U32(0xC2B2AE35)
    return x ^ (x >> _U32(16))


def _check_seed(seed: int) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) <= _MASK64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return int(seed)


def hash32(seed: int, index: np.ndarray) -> np.ndarray:
    """The 32-bit hash of (seed, index) for an array of element indices."""
    seed = _check_seed(seed)
    index = np.asarray(index, dtype=_U64)
    with np.errstate(over="ignore"):
        key = splitmix64(_U64(seed) ^ ((index >> _U64(32)) * _U64(0xD1B54A32D192ED03)))
        k0 = (key & _U64(0xFFFFFFFF)).astype(_U32)
        k1 = (key >> _U64(32)).astype(_U32)
        lo = (index & _U64(0xFFFFFFFF)).astype(_U32)
        return fmix32(((lo ^ k0) * _U32(0x9E3779B1)) ^ k1)


def uniform(seed: int, n: int, start: int = 0) -> np.ndarray:
    """float32 uniforms in [0, 1) for elements start .. start+n-1 (exact multiples of 2**-24)."""
    idx = np.arange(start, start + n, dtype=_U64)
    return ((hash32(seed, idx) >> _U32(8)).astype(np.float32) * np.float32(2.0**-24)).astype(np.float32)


REDUCE_BLOCK = 4096  # kernels/common/reduce.hpp: kReduceBlock
_LANES = 8


def abs_sum_det(x: np.ndarray) -> float:
    """Sum of |x| (float32 in, float64 accumulation) in the kernels' fixed order.

    Blocks of REDUCE_BLOCK elements; inside a block element j goes to accumulator j % 8 in order;
    the 8 accumulators are added left to right; block sums are added in block order.
    """
    a = np.abs(np.asarray(x, dtype=np.float32).reshape(-1)).astype(np.float64)
    n = a.size
    if n == 0:
        return 0.0
    nb = -(-n // REDUCE_BLOCK)
    padded = np.zeros(nb * REDUCE_BLOCK, dtype=np.float64)  # +0.0 leaves every partial sum exact
    padded[:n] = a
    rows = padded.reshape(nb, REDUCE_BLOCK // _LANES, _LANES)
    acc = np.zeros((nb, _LANES), dtype=np.float64)
    for i in range(rows.shape[1]):  # sequential per lane, vectorized across blocks
        acc += rows[:, i, :]
    block = acc[:, 0].copy()
    for lane in range(1, _LANES):
        block += acc[:, lane]
    return float(np.cumsum(block)[-1])  # cumsum adds strictly left to right
