"""MEST (Yuan et al., NeurIPS 2021): cross-validation ops, reference (reference.py) vs kernels
(kernels.py, kernels/mest), exact agreement on every ISA variant:

  e_i      = |w_i| + lambda * |g_i|                        (importance at a kept weight)
  score_u  = e_i (single weights) or sum_{i in u} e_i^2    (per unit, the squared L2 norm)
  drop     = the k lowest (score, unit id)                 (prune)
  grow     = k distinct units drawn uniformly among those not kept (counter-based stream)
  rebuild  = CSR of the survivors and the grown positions (value 0), slot remap src
  mutate   = the whole mutation of a layer on each scheme (mask, values, remap)
"""

from __future__ import annotations

import torch

from ...oracle import Comparison
from ...registry import Case, Op, Paper, register
from . import kernels, reference

PAPER = Paper(key="yuan2021", title="MEST: Accurate and Fast Memory-Economic Sparse Training Framework on the Edge",
              venue="NeurIPS 2021", url="https://arxiv.org/abs/2110.14032")
EXACT = Comparison(exact=True, why="same float32 ops in the same order (no FMA contraction), integer selections, "
                                   "the shared counter-based RNG")
SIZES = (0, 1, 17, 70001)  # empty, one, odd, several 16384-element chunks


def _vals(n: int, seed: int, kind: str = "normal") -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if kind == "zeros":
        return torch.zeros(n)
    if kind == "ties":  # few distinct magnitudes: selection ties everywhere
        return (torch.randint(-3, 4, (n,), generator=gen)).float() * 0.5
    return torch.randn(n, generator=gen)


def _slot_cases():
    for n in SIZES:
        for kind, lam in (("normal", 0.0), ("normal", 0.5), ("zeros", 0.5)):
                def make(n=n, kind=kind, lam=lam):
                    return {"values": _vals(n, n + 1, kind), "grad": _vals(n, n + 2) if lam else None, "lam": lam}
                yield Case(f"n{n}-{kind}-lam{lam}", make)


def _unit_cases():
    for nu in (0, 7, 1001):
        for per in (1, 4, 9):
            for kind in (("normal", "zeros") if nu == 7 else ("normal",)):
                def make(nu=nu, per=per, kind=kind):
                    return {"e": _vals(nu * per, nu * 31 + per, kind).abs(), "per_unit": per}
                yield Case(f"units{nu}x{per}-{kind}", make)


def _select_cases():
    for n in (0, 17, 4097):
        for kind in ("normal", "ties", "zeros"):
            for frac in ((0.3,) if n != 17 else (0.0, 0.3, 1.0)):
                def make(n=n, kind=kind, frac=frac):
                    gen = torch.Generator().manual_seed(n + 5)
                    ids = torch.randperm(3 * n + 1, generator=gen)[:n]  # unique, unsorted (storage order)
                    return {"scores": _vals(n, n, kind).abs().double(), "ids": ids, "k": int(round(frac * n))}
                yield Case(f"n{n}-{kind}-k{frac}", make)
    # the lean forms: float32 scores, int32 ids or none (the slot is the id), signed scores with
    # -0 / +0, ids with equal pairs (slot order), heavy ties across the radix digits
    for n in (1, 17, 70001):
        for ids_kind in ("none", "int32", "int64-neg", "dup"):
            for kind in ("normal", "ties", "zeros"):
                def make(n=n, ids_kind=ids_kind, kind=kind):
                    gen = torch.Generator().manual_seed(n * 3 + len(ids_kind))
                    sc = _vals(n, n + 9, kind)
                    if kind == "zeros":
                        sc = torch.where(torch.rand(n, generator=gen) < 0.5, -0.0, 0.0)
                    ids = {"none": None, "int32": torch.randperm(5 * n, generator=gen)[:n].to(torch.int32),
                           "int64-neg": torch.randperm(5 * n, generator=gen)[:n] - 2 * n - 2**40,
                           "dup": torch.randint(0, 3, (n,), generator=gen)}[ids_kind]
                    return {"scores": sc, "ids": ids, "k": (n * 2) // 5 + (n % 2)}
                yield Case(f"f32-n{n}-ids-{ids_kind}-{kind}", make)


def _grow_cases():
    # (n_units, kept count, grow count): empty, everything free, both sampling regimes, all free grown
    for n_units, n_kept, k in ((0, 0, 0), (1, 0, 1), (17, 5, 3), (17, 5, 12), (1000, 100, 10), (1000, 100, 450),
                               (1000, 100, 900), (100003, 10000, 2000), (50, 50, 0)):
        for seed in ((0, 2**63 + 12345) if n_units == 1000 else (7,)):
            def make(n_units=n_units, n_kept=n_kept, k=k, seed=seed):
                gen = torch.Generator().manual_seed(n_units + n_kept)
                kept = torch.randperm(n_units, generator=gen)[:n_kept] if n_units else torch.zeros(0, dtype=torch.int64)
                return {"kept": kept, "n_units": n_units, "k": k, "seed": seed}
            yield Case(f"u{n_units}-kept{n_kept}-grow{k}-seed{seed % 1000}", make)


def _grow_csr_cases():
    for rows, K, density, k in ((0, 5, 0.0, 0), (1, 1, 0.0, 1), (1, 1, 1.0, 0), (3, 7, 0.5, 4), (17, 33, 0.1, 40),
                                (17, 33, 0.1, 400), (64, 577, 0.3, 500), (64, 577, 0.9, 3000)):
        def make(rows=rows, K=K, density=density, k=k):
            p = _csr_problem(rows, K, density, rows * 13 + K, False)
            return {"row_ptr": p["row_ptr"], "col": p["col"], "K": K, "k": k, "seed": 2**63 + rows}
        yield Case(f"{rows}x{K}-d{density}-grow{k}", make)


def _random_csr_cases():
    # empty (0 rows, 0 columns), one weight, odd shapes; nnz from 0 (sparsity 1) to all (sparsity 0),
    # both sides of nnz = n / 2 (kept drawn / zeros drawn), row boundaries inside 64-bit words
    for rows, K in ((0, 5), (5, 0), (1, 1), (7, 13), (33, 65), (257, 129)):
        n = rows * K
        for nnz in sorted({0, n // 2 - 1 if n > 1 else 0, n // 2, (n + 1) // 2, n // 10, n - 1 if n else 0, n}):
            def make(rows=rows, K=K, nnz=nnz):
                return {"rows": rows, "K": K, "nnz": nnz, "seed": 12345 + nnz}
            yield Case(f"{rows}x{K}-nnz{nnz}", make)


def _csr_problem(rows: int, K: int, density: float, seed: int, zeros: bool):
    gen = torch.Generator().manual_seed(seed)
    n = rows * K
    nnz = int(round(density * n))
    pos = torch.sort(torch.randperm(n, generator=gen)[:nnz]).values if n else torch.zeros(0, dtype=torch.int64)
    counts = torch.bincount(pos // K, minlength=rows) if rows and K else torch.zeros(rows, dtype=torch.int64)
    rp = torch.zeros(rows + 1, dtype=torch.int32)
    rp[1:] = torch.cumsum(counts, 0).to(torch.int32)
    col = (pos % K).to(torch.int32) if K else torch.zeros(0, dtype=torch.int32)
    vals = torch.zeros(nnz) if zeros else torch.randn(nnz, generator=gen)
    drop = torch.rand(nnz, generator=gen) < 0.2
    free = torch.ones(n, dtype=torch.bool)
    free[pos] = False
    fpos = torch.nonzero(free).flatten()
    g = min(int(drop.sum()), fpos.numel())
    grown = torch.sort(fpos[torch.randperm(fpos.numel(), generator=gen)[:g]]).values
    return {"row_ptr": rp, "col": col, "values": vals, "drop": drop, "K": K, "grown": grown}


def _csr_cases():
    for rows, K in ((0, 5), (1, 1), (3, 7), (17, 33), (64, 577)):
        for density in ((1.0, 0.1) if rows != 17 else (1.0, 0.5, 0.1)):  # density 1: sparsity 0, nothing free
            for zeros in ((False, True) if rows == 3 else (False,)):
                def make(rows=rows, K=K, density=density, zeros=zeros):
                    return _csr_problem(rows, K, density, rows * 7 + K, zeros)
                yield Case(f"{rows}x{K}-d{density}-{'zeros' if zeros else 'randn'}", make)
    for rows, K, density in ((5, 9, 0.5), (17, 33, 0.3)):  # BSR: 4 values per slot (MEST's 4x1 blocks)
        def make(rows=rows, K=K, density=density):
            p = _csr_problem(rows, K, density, rows * 11 + K, False)
            p["values"] = torch.randn(4 * p["col"].numel(), generator=torch.Generator().manual_seed(rows))
            return {**p, "width": 4}
        yield Case(f"{rows}x{K}-d{density}-width4", make)


def _mutate_ref(layer, n_prune, n_grow, lam, grad, seed):
    from .mutate import plan

    sw, src, dropped, grown = plan(layer, n_prune, n_grow, lam=lam, grad=grad, seed=seed, impl="reference")
    return sw.positions(), sw.values, src, dropped, grown


def _mutate_kernel(layer, n_prune, n_grow, lam, grad, seed, *, isa=None, threads=0):
    from .mutate import plan

    sw, src, dropped, grown = plan(layer, n_prune, n_grow, lam=lam, grad=grad, seed=seed, impl="kernel", isa=isa,
                                   threads=threads)
    return sw.positions(), sw.values, src, dropped, grown


def _mutate_cases():
    from ...formats.modules import SparseConv2d, SparseLinear
    from .init import random_sparse_weight
    from .units import stored_units

    shapes = {"unstructured": ((13, 7, 3, 3), (33, 17)), "block": ((12, 7, 3, 3),),
              "pattern": ((6, 5, 3, 3),), "filter": ((11, 7, 3, 3), (9, 5))}
    for scheme, shps in shapes.items():
        for shp in shps:
            for s in (0.6, 0.9):
                for lam in ((0.0, 1.0) if s == 0.9 else (0.0,)):
                    for zeros in ((False, True) if lam == 0.0 and s == 0.9 else (False,)):
                        def make(scheme=scheme, shp=shp, s=s, lam=lam, zeros=zeros):
                            sw = random_sparse_weight(shp, scheme, s, seed=3)
                            if zeros:
                                sw.values.zero_()
                            layer = (SparseConv2d.from_sparse(sw, 1, 1, bias=False) if len(shp) == 4
                                     else SparseLinear.from_sparse(sw, bias=False))
                            u = stored_units(sw)
                            kept = int(u.kept.numel())
                            k = min(max(1, kept // 4), u.n_units - kept)
                            grad = torch.randn(sw.values.shape, generator=torch.Generator().manual_seed(1)) if lam else None
                            return {"layer": layer, "n_prune": k, "n_grow": k, "lam": lam, "grad": grad, "seed": 99}
                        yield Case(f"{scheme}-{'x'.join(map(str, shp))}-s{s}-lam{lam}{'-zeros' if zeros else ''}", make)
    # an all-zero gradient (scores = |w|) and a layer that stores nothing yet (empty values and
    # gradient: nothing to prune, units grown from an empty CSR)
    yield Case("unstructured-13x7x3x3-s0.9-lam1.0-zero-grad", _zero_grad_mutation)
    yield Case("unstructured-9x5-empty-grow4", _empty_layer_mutation)


def _zero_grad_mutation():
    from ...formats.modules import SparseConv2d
    from .init import random_sparse_weight

    sw = random_sparse_weight((13, 7, 3, 3), "unstructured", 0.9, seed=3)
    layer = SparseConv2d.from_sparse(sw, 1, 1, bias=False)
    return {"layer": layer, "n_prune": 30, "n_grow": 30, "lam": 1.0, "grad": torch.zeros(sw.values.shape), "seed": 99}


def _empty_layer_mutation():
    from ...formats.modules import SparseLinear
    from ...formats.unstructured.csr import CSRWeight

    sw = CSRWeight(torch.zeros(10, dtype=torch.int32), torch.zeros(0, dtype=torch.int32), torch.zeros(0), (9, 5))
    layer = SparseLinear.from_sparse(sw, bias=False)
    return {"layer": layer, "n_prune": 0, "n_grow": 4, "lam": 1.0, "grad": torch.zeros(0), "seed": 99}


def _k(fn):
    def kernel(*args, isa=None, threads=0, **kw):
        return fn(*args, isa=isa, threads=threads, **kw)
    return kernel


register(Op(method="mest", name="slot_scores", paper=PAPER, reference=reference.slot_scores,
            kernel=_k(kernels.slot_scores), cases=_slot_cases, compare=EXACT, stages=("mask_update",),
            doc="|w| + lambda |grad w| at the kept weights"))
register(Op(method="mest", name="unit_scores", paper=PAPER, reference=reference.unit_scores,
            kernel=_k(kernels.unit_scores), cases=_unit_cases, compare=EXACT, stages=("mask_update",),
            doc="per-unit score: slot score or squared L2 norm, summed in slot order (float64)"))
register(Op(method="mest", name="select_drop", paper=PAPER, reference=reference.select_drop,
            kernel=_k(kernels.select_drop), cases=_select_cases, compare=EXACT, stages=("mask_update",),
            doc="the k lowest-scored units, ties to the lower id"))
register(Op(method="mest", name="grow_units", paper=PAPER, reference=reference.grow_units,
            kernel=_k(kernels.grow_units), cases=_grow_cases, compare=EXACT, stages=("mask_update",), stochastic=True,
            doc="k free units drawn uniformly with the counter-based RNG",
            extra={"exempt": {"all_zero": "no floating-point input (integer unit ids and counts); all-zero values "
                                          "and scores are cases of slot_scores, unit_scores, select_drop and mutate"}}))
register(Op(method="mest", name="grow_csr", paper=PAPER, reference=reference.grow_csr,
            kernel=_k(kernels.grow_csr), cases=_grow_csr_cases, compare=EXACT, stages=("mask_update",), stochastic=True,
            doc="grow_units with kept = a CSR's positions, merged in place",
            extra={"exempt": {"all_zero": "no floating-point input (a CSR structure and counts); all-zero values "
                                          "are cases of the mutate op"}}))
register(Op(method="mest", name="random_csr", paper=PAPER, reference=reference.random_csr,
            kernel=_k(kernels.random_csr), cases=_random_csr_cases, compare=EXACT, stages=("mask_update",),
            stochastic=True, doc="the sparse init's random CSR mask (nnz positions of rows x K)",
            extra={"exempt": {"odd": "integer arguments only: odd layers are the rows x K cases 7x13, 33x65, 257x129",
                              "empty": "integer arguments only: empty layers are the cases 0x5 and 5x0",
                              "all_zero": "no floating-point input (counts and a seed)"}}))
register(Op(method="mest", name="csr_rebuild", paper=PAPER, reference=reference.csr_rebuild,
            kernel=_k(kernels.csr_rebuild), cases=_csr_cases, compare=EXACT, stages=("mask_update",),
            doc="CSR merge of survivors and grown positions with the slot remap"))
register(Op(method="mest", name="mutate", paper=PAPER, reference=_mutate_ref, kernel=_mutate_kernel,
            cases=_mutate_cases, compare=EXACT, stages=("mask_update",), stochastic=True, native=False,
            doc="one mutation of a layer on every scheme: positions, values, remap, dropped and grown units"))
