"""Block-sparse weights (MEST block-based scheme): cross-validation ops for every stage."""

from __future__ import annotations

from ...registry import Case, Comparison, Op, register
from ..crossval import MEST, _rand, make_stage_ops
from .format import BlockSparseWeight
from .masks import block_mask


# --- block scheme ----------------------------------------------------------------------------------

def _block_weight(block, structure="block"):
    def make(shape, sp, dense):
        bm = block_mask(shape, sp, block=block, weight=dense, structure=structure,
                        group=(2 * block[0], 2 * block[1]))
        return BlockSparseWeight.from_block_mask(bm, dense)
    return make


_BLOCK_SHAPES = {(4, 4): "block", (8, 1): "block", (1, 8): "block", (2, 2): "columns"}


def _block_any(shape, sp, dense):
    # Spread the supported block shapes (and a MEST column structure) over the cases.
    key = (shape[0] * 7 + shape[1] * 3 + int(sp * 100)) % 4
    block = list(_BLOCK_SHAPES)[key]
    return _block_weight(block, _BLOCK_SHAPES[block])(shape, sp, dense)


make_stage_ops("block", MEST, _block_any, linear=True, note=" (BSR, bo x bi blocks at one tap, direct conv)")


def ref_from_block_mask(weight, sparsity, block, structure):
    bm = block_mask(weight.shape, sparsity, block=block, weight=weight, structure=structure)
    return weight * bm.dense()


def k_from_block_mask(weight, sparsity, block, structure, **kw):
    bm = block_mask(weight.shape, sparsity, block=block, weight=weight, structure=structure)
    return BlockSparseWeight.from_block_mask(bm, weight).to_dense()


def from_mask_cases():
    for shape in ((9, 5, 3, 3), (7, 13), (0, 4, 3, 3)):
        for block in ((4, 4), (8, 1)):
            for sp in ((0.5,) if shape[0] == 0 else (0.0, 0.9, 1.0)):
                for structure in (("block", "columns", "rows") if sp == 0.9 else ("block",)):
                    yield Case(f"{shape}-{block}-s{sp}-{structure}",
                               lambda shape=shape, block=block, sp=sp, structure=structure: {
                                   "weight": _rand(shape, 41), "sparsity": sp, "block": block,
                                   "structure": structure})
    # an all-zero weight: every block ties
    yield Case("all-zero-s0.5", lambda: {"weight": _rand((9, 5, 3, 3), 0, "zeros"), "sparsity": 0.5, "block": (4, 4),
                                         "structure": "block"})


register(Op(native=False, method="block", name="compress", paper=MEST, reference=ref_from_block_mask, kernel=k_from_block_mask,
            cases=from_mask_cases, compare=Comparison(exact=True, why="pure data movement"), stages=("front_end",),
            doc="block mask -> BSR (no dense intermediate) -> to_dense round trip"))
