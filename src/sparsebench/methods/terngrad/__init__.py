"""TernGrad (Wen et al., NIPS 2017, "TernGrad: Ternary Gradients to Reduce Communication in
Distributed Deep Learning"): each layer's gradient ternarized to s * {-1, 0, +1} (stochastic,
unbiased; s = max|g| or the clipping 2.5 std(g), shared as the max over ranks), packed at 2 bits
a value and exchanged for real over torch.distributed.

  reference.py  readable PyTorch formulas          kernels.py   wrappers over the C++ kernels
  ops.py        cross-validation ops               comm.py      the DDP communication hook
  bench.py      encode / decode harness cases      bench_dist.py  exchange across ranks
  train_ddp.py  data-parallel MNIST under torchrun claims.py    its claim comparisons
"""

from __future__ import annotations

from ..base import Method
from . import bench
from .claims import MEASURES
from .comm import DenseState, TernGradState, dense_hook, exchange, terngrad_hook
from .kernels import decode, encode, scaler, ternarize_pack


class TernGradMethod(Method):
    name = "terngrad"
    suite = bench.SUITE
    title = "TernGrad (ternary gradients, 2-bit exchange over torch.distributed)"
    rate_label = "none (ternary gradients)"
    stages = bench.STAGES
    bench = bench
    claim_measures = MEASURES

    def tables(self, records):
        from .report import tables

        return tables(records)


METHOD = TernGradMethod()

__all__ = ["METHOD", "DenseState", "TernGradState", "decode", "dense_hook", "encode", "exchange", "scaler",
           "ternarize_pack", "terngrad_hook"]
