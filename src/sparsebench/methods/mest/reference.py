"""Readable reference of MEST's mutation (Yuan et al., NeurIPS 2021), one function per formula;
kernels.py runs the same steps in C++ (kernels/mest) and tests/test_mest_kernels.py checks they
agree exactly on every ISA variant.

Units: the pruned / grown element of a scheme (one weight, one BSR block, one 3x3 kernel, one
filter). A layer's stored units are runs of ``per_unit`` consecutive value slots.
"""

from __future__ import annotations

import numpy as np
import torch

from ... import rng


def slot_scores(values: torch.Tensor, grad: torch.Tensor | None = None, lam: float = 0.0) -> torch.Tensor:
    """MEST importance at each kept weight: |w| + lambda * |dL/dw| (float32). The authors' default
    lambda = 0 (and their code scores right after zero_grad, so the gradient term never acts)."""
    e = values.detach().abs()
    if grad is not None:
        e = e + np.float32(lam) * grad.detach().abs()
    return e


def unit_scores(e: torch.Tensor, per_unit: int) -> torch.Tensor:
    """float64 score per unit: the slot score for single weights, else the squared L2 norm of the
    unit's slot scores (MEST's block and pattern schemes rank by L2), summed in slot order."""
    e = e.reshape(-1, per_unit).double()
    if per_unit == 1:
        return e[:, 0].clone()
    acc = torch.zeros(e.shape[0], dtype=torch.float64)
    for j in range(per_unit):
        acc = acc + e[:, j] * e[:, j]
    return acc


def select_drop(scores: torch.Tensor, ids: torch.Tensor | None, k: int) -> torch.Tensor:
    """bool flags of the k lowest-scored units; equal scores drop the lower unit id first (ids
    None: the id is the storage slot), equal (score, id) the lower slot."""
    if ids is None:
        ids = torch.arange(scores.numel())
    order = np.lexsort((ids.numpy(), scores.numpy()))  # by score, then id (stable: then slot)
    drop = torch.zeros(scores.numel(), dtype=torch.bool)
    drop[torch.from_numpy(order[:k])] = True
    return drop


def hash64(seed: int, j: np.ndarray) -> np.ndarray:
    """64-bit counter-based draw j of stream ``seed``: two 32-bit hashes (indices 2j, 2j+1)."""
    j = np.asarray(j, dtype=np.uint64)
    hi = rng.hash32(seed, 2 * j).astype(np.uint64)
    lo = rng.hash32(seed, 2 * j + 1).astype(np.uint64)
    return (hi << np.uint64(32)) | lo


def free_rank_draws(n_free: int, k: int, seed: int) -> np.ndarray:
    """k distinct ranks in [0, n_free), uniformly, in draw order: when k is more than half the free
    units, the first k of the permutation that sorts hash64(seed, r); else sequential draws
    hash64(seed, j) mod n_free with repeats skipped."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if 2 * k > n_free:
        r = np.arange(n_free, dtype=np.uint64)
        return np.lexsort((r, hash64(seed, r)))[:k].astype(np.int64)
    out: list[int] = []
    seen: set[int] = set()
    j = 0
    while len(out) < k:
        if j >= 64 * k + 64:
            raise RuntimeError("free_rank_draws: draw bound reached")
        chunk = hash64(seed, np.arange(j, j + 2 * k + 16)) % np.uint64(n_free)
        for r in chunk.astype(np.int64).tolist():
            if r not in seen:
                seen.add(r)
                out.append(r)
                if len(out) == k:
                    break
        j += 2 * k + 16
    return np.asarray(out, dtype=np.int64)


def grow_units(kept: torch.Tensor, n_units: int, k: int, seed: int) -> torch.Tensor:
    """k distinct unit ids not in ``kept``, drawn uniformly among the free units (draw order)."""
    ks = np.sort(kept.numpy().astype(np.int64))
    n_free = n_units - ks.size
    if k > n_free:
        raise ValueError(f"grow count {k} exceeds the {n_free} free units")
    ranks = free_rank_draws(n_free, k, seed)
    before = ks - np.arange(ks.size)  # free units before each kept one
    return torch.from_numpy(ranks + np.searchsorted(before, ranks, side="right"))


def csr_positions(row_ptr: torch.Tensor, col: torch.Tensor, K: int) -> torch.Tensor:
    """int64 flat position r * K + c of each CSR slot (ascending)."""
    r = torch.repeat_interleave(torch.arange(row_ptr.numel() - 1), torch.diff(row_ptr.long()))
    return r * K + col.long()


def grow_csr(row_ptr: torch.Tensor, col: torch.Tensor, K: int, k: int, seed: int) -> torch.Tensor:
    """grow_units with kept = the positions of a CSR over (rows, K)."""
    return grow_units(csr_positions(row_ptr, col, K), (row_ptr.numel() - 1) * K, k, seed)


def random_csr(rows: int, K: int, nnz: int, seed: int):
    """(row_ptr, col) int32 of the sparse init's mask: nnz distinct positions of the rows x K
    weight uniformly at random, drawn as free_rank_draws of all n positions when 2 nnz < n, else
    the n - nnz zeros drawn that way and the rest kept."""
    n = rows * K
    if 2 * nnz < n:
        pos = np.sort(free_rank_draws(n, nnz, seed))
    else:
        keep = np.ones(n, dtype=bool)
        keep[free_rank_draws(n, n - nnz, seed)] = False
        pos = np.nonzero(keep)[0]
    pos = torch.from_numpy(pos.astype(np.int64))
    counts = torch.bincount(pos // K, minlength=rows) if rows and K else torch.zeros(rows, dtype=torch.int64)
    row_ptr = torch.zeros(rows + 1, dtype=torch.int32)
    row_ptr[1:] = torch.cumsum(counts, 0).to(torch.int32)
    return row_ptr, (pos % K).to(torch.int32) if K else torch.zeros(0, dtype=torch.int32)


def csr_rebuild(row_ptr: torch.Tensor, col: torch.Tensor, values: torch.Tensor, drop: torch.Tensor, K: int,
                grown: torch.Tensor, width: int = 1):
    """(row_ptr, col, values, src) of the CSR without the dropped slots and with the (sorted)
    grown positions added at value 0; src = old slot of each new slot, -1 where grown. A slot
    holds ``width`` consecutive values (a BSR block: width = bo * bi)."""
    rows = row_ptr.numel() - 1
    r = torch.repeat_interleave(torch.arange(rows), torch.diff(row_ptr.long()))
    old_pos = r * K + col.long()
    stay = ~drop.bool()
    pos = torch.cat([old_pos[stay], grown.long()])
    src = torch.cat([torch.nonzero(stay).flatten(), torch.full((grown.numel(),), -1, dtype=torch.int64)])
    vals = torch.cat([values.detach().reshape(-1, width)[stay], torch.zeros(grown.numel(), width)])
    order = torch.argsort(pos)
    pos, src, vals = pos[order], src[order], vals[order]
    counts = torch.bincount(pos // K, minlength=rows) if rows else torch.zeros(0, dtype=torch.int64)
    new_rp = torch.zeros(rows + 1, dtype=torch.int32)
    new_rp[1:] = torch.cumsum(counts, 0).to(torch.int32)
    return new_rp, (pos % K).to(torch.int32), vals.float().reshape(-1), src
