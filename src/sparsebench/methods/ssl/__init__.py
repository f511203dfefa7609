"""SSL, Structured Sparsity Learning (Wen et al., NIPS 2016): group Lasso over filters (rows of
the lowered weight), filter shapes (columns), channels and depth, the fused norms + update
kernel (subgradient or proximal, zeroing below 1e-4), and the compaction of the learned
structure into a smaller dense convolution.

  reference.py  readable PyTorch formulas        kernels.py  wrappers over kernels/ssl
  ../../formats/lowered.py  CompactConv2d (rows, columns removed; gathers timed), shared with strided
  nn.py         apply_ssl / prox_step / structured_sparsity for training
  plans.py      the paper's per-layer AlexNet sparsities (stand-in)   sweep.py  accuracy vs structure
  ops.py        cross-validation ops             bench.py    benchmark cases
  report.py     the report's table and figure of accuracy vs structured sparsity (the sweep's records)
"""

from __future__ import annotations

from ..base import Method
from . import bench
from ...formats.lowered import CompactConv2d
from .nn import apply_ssl, prox_step, structured_sparsity


def _impl_vs(claim, records):
    from .claims import impl_vs

    return impl_vs(claim, records)


class SslMethod(Method):
    name = "ssl"
    suite = bench.SUITE
    title = "SSL group Lasso (filters, filter shapes), compacted dense convolution"
    own_accuracy_figure = True  # its figures section draws its accuracy runs
    rate_label = "FLOP sparsity (ssl-paper: the plan's mean, per-layer values in the records)"
    stages = bench.STAGES
    bench = bench
    claim_measures = {"impl_vs": _impl_vs}

    def accuracy_cases(self, dataset, quick):
        lams = (0.0, 0.02) if quick else (0.0, 0.005, 0.02, 0.05)
        return [("ssl-rows-cols", lam) for lam in lams]

    def apply(self, model, scheme, sparsity, *, seed=0, generator=None):
        """``sparsity`` is the group-Lasso lambda for accuracy runs (rows and columns groups)."""
        return apply_ssl(model, sparsity, ("rows", "cols"))

    def training_stats(self, model):
        return structured_sparsity(model)

    def claim_runs(self, claim, profile_name, out, progress=None):
        """An "impl_vs" claim (twice non-structured) is no stage-time comparison, so validate
        builds no case for it: measure its layers here (the catalogue cases of the claim's
        scheme, every implementation timed interleaved in each case), skipping cases this
        results file already holds (e.g. measured for the 5.1x row in the same validate)."""
        from .claims import run_impl_vs

        if claim.measure.comparison == "impl_vs":
            run_impl_vs(claim, profile_name, out, progress)

    def tables(self, records):
        from .report import tables

        return tables(records)

    def figures(self, records, out):
        from .report import figures

        return figures(records, out)


METHOD = SslMethod()

__all__ = ["METHOD", "CompactConv2d", "apply_ssl", "prox_step", "structured_sparsity"]
