"""Activation-gradient pruning (Ye et al., ECCV 2020): fused front-end, compressed dO format,
sparse-dO backward kernels for conv2d / linear, and training integration."""

from .format import SparseGrad, compress_reference, rows_cols
from .nn import PrunedConv2d, PrunedLinear, apply_actgrad_pruning
from .ops import (
    conv2d_backward_data,
    conv2d_weight_grad,
    linear_backward_data,
    linear_weight_grad,
    prune,
    prune_compress,
)

__all__ = [
    "SparseGrad", "compress_reference", "rows_cols", "PrunedConv2d", "PrunedLinear", "apply_actgrad_pruning",
    "conv2d_backward_data", "conv2d_weight_grad", "linear_backward_data", "linear_weight_grad", "prune",
    "prune_compress",
]
