"""Per-layer structured sparsities the SSL benchmarks compact.

The paper (Wen et al. 2016, Table 4) reports, per AlexNet conv layer, the row (filter) sparsity
and column (filter-shape) sparsity its group Lasso reached, and the CPU (MKL) speedup of each
layer's GEMM. The figures below are a STAND-IN: they are the row "SSL" of that table as recalled
by the implementer; no public source confirming them could be reached from here (the `search`
corpus holds the abstract but not the table), so treat them as unconfirmed. They are consistent
with the abstract: the recalled per-layer CPU speedups 1.05 / 3.37 / 6.27 / 9.73 / 4.93 average
5.07, i.e. the "on average 5.1X". Replace them here if the table says otherwise.

Which rows and columns are removed is drawn at random (seeded): only the counts matter to a
compacted dense problem's time.
"""

from __future__ import annotations

SOURCE = ("stand-in: SSL paper Table 4 (AlexNet, row 'SSL') as recalled, unconfirmed; "
          "no public copy of the table reachable here")
# catalogue layer -> (row sparsity, column sparsity)
ALEXNET_PAPER = {
    "alexnet-conv1": (0.094, 0.000),
    "alexnet-conv2": (0.129, 0.632),
    "alexnet-conv3": (0.406, 0.769),
    "alexnet-conv4": (0.469, 0.847),
    "alexnet-conv5": (0.000, 0.807),
}
# the paper's measured CPU speedup per layer (same stand-in caveat), shown beside ours
ALEXNET_PAPER_CPU_SPEEDUP = {"alexnet-conv1": 1.05, "alexnet-conv2": 3.37, "alexnet-conv3": 6.27,
                             "alexnet-conv4": 9.73, "alexnet-conv5": 4.93}


def uniform(s: float) -> tuple[float, float]:
    """Row and column sparsity that together remove a fraction s of the FLOPs, split evenly."""
    keep = (1.0 - s) ** 0.5
    return 1.0 - keep, 1.0 - keep


def flop_sparsity(row_s: float, col_s: float) -> float:
    return 1.0 - (1.0 - row_s) * (1.0 - col_s)


# the sparsity slot of the plan's benchmark cases: its mean per-layer FLOP sparsity, 2 decimals
PLAN_SLOT = round(sum(flop_sparsity(*rc) for rc in ALEXNET_PAPER.values()) / len(ALEXNET_PAPER), 2)
