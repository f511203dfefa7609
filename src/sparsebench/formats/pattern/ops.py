"""Pattern-sparse 3x3 weights (MEST / PatDNN pattern scheme): registry ops for every stage."""

from __future__ import annotations

from ...registry import Case, Comparison, Op, register
from ..crossval import MEST, _rand, make_stage_ops
from .format import PatternSparseWeight
from .masks import MIN_SPARSITY, pattern_mask


def _pattern_weight(shape, sp, dense):
    sp = max(sp, MIN_SPARSITY)
    return PatternSparseWeight.from_pattern_mask(pattern_mask(shape, sp, weight=dense), dense)


make_stage_ops("pattern", MEST, _pattern_weight, linear=False, need3x3=True,
               sparsities=(MIN_SPARSITY, 0.9, 0.99, 1.0), note=" (4-tap patterns + connectivity, direct conv)",
               exempt={"sparsity_0": f"a 4-of-9-tap pattern holds s >= {MIN_SPARSITY:.3f} only (its lowest is a case)"})


def ref_compress(weight, sparsity):
    return weight * pattern_mask(weight.shape, sparsity, weight=weight).dense()


def k_compress(weight, sparsity, **kw):
    return PatternSparseWeight.from_pattern_mask(pattern_mask(weight.shape, sparsity, weight=weight), weight).to_dense()


def compress_cases():
    for shape in ((9, 5, 3, 3), (1, 1, 3, 3), (0, 3, 3, 3)):
        for sp in (MIN_SPARSITY, 0.9, 1.0):
            yield Case(f"{shape}-s{sp:.3f}", lambda shape=shape, sp=sp: {"weight": _rand(shape, 51), "sparsity": sp})
    # an all-zero weight: every pattern ties (the tie-break must still give a valid format)
    yield Case("all-zero-s0.9", lambda: {"weight": _rand((9, 5, 3, 3), 0, "zeros"), "sparsity": 0.9})


register(Op(native=False, method="pattern", name="compress", paper=MEST, reference=ref_compress, kernel=k_compress,
            cases=compress_cases, compare=Comparison(exact=True, why="pure data movement"), stages=("front_end",),
            extra={"exempt": {"sparsity_0": "a 4-of-9-tap pattern holds s >= 5/9 only"}},
            doc="pattern mask -> grouped pattern format -> to_dense round trip"))
