"""Filter / channel sparsity (L1 filter pruning, Li et al. ICLR 2017; SSL's compaction; MEST's
structured scheme): registry ops. The kernels run torch's dense ops on the compacted problem, so
isa= and threads= are accepted and ignored (torch's own thread setting applies)."""

from __future__ import annotations

from ...registry import Case, Comparison, Op, Paper, register
from ..crossval import CONV_SHAPES, _rand, make_stage_ops
from .format import FilterSparseWeight
from .masks import filter_mask

LI2017 = Paper(key="li2017", title="Pruning Filters for Efficient ConvNets", venue="ICLR 2017",
               url="https://arxiv.org/abs/1608.08710")


def _filter_weight(shape, sp, dense):
    mode = ("filters", "channels", "both")[(shape[0] + shape[1]) % 3]
    return FilterSparseWeight.from_filter_mask(filter_mask(shape, sp, weight=dense, mode=mode), dense)


# torch's dense kernels do the arithmetic: fewer cases (the same for every isa= / threads=).
make_stage_ops("filter", LI2017, _filter_weight, linear=True, native=False, conv_shapes=[CONV_SHAPES[i] for i in (0, 1, 2, 4, 6, 9, 10, 11)],
               sparsities=(0.0, 0.9, 1.0), note=" (compacted dense problem on torch)")


def ref_compact(weight, sparsity, mode):
    fm = filter_mask(weight.shape, sparsity, weight=weight, mode=mode)
    return (weight * fm.dense()).index_select(0, fm.out_idx).index_select(1, fm.in_idx).reshape(-1)


def k_compact(weight, sparsity, mode, **kw):
    return FilterSparseWeight.from_filter_mask(filter_mask(weight.shape, sparsity, weight=weight, mode=mode),
                                               weight).values


def compact_cases():
    for shape in ((9, 5, 3, 3), (7, 13), (0, 4, 3, 3)):
        for sp in (0.0, 0.9, 1.0):
            for mode in (("filters", "channels", "both") if sp == 0.9 else ("both",)):
                yield Case(f"{shape}-s{sp}-{mode}",
                           lambda shape=shape, sp=sp, mode=mode: {"weight": _rand(shape, 61), "sparsity": sp,
                                                                  "mode": mode})
    # an all-zero weight: every filter and channel ties
    yield Case("all-zero-s0.5", lambda: {"weight": _rand((9, 5, 3, 3), 0, "zeros"), "sparsity": 0.5, "mode": "both"})


register(Op(native=False, method="filter", name="compact", paper=LI2017, reference=ref_compact, kernel=k_compact,
            cases=compact_cases, compare=Comparison(exact=True, why="pure data movement"), stages=("front_end",),
            doc="filter/channel mask -> compact dense weight"))
