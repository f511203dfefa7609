"""Activation-gradient pruning (Ye et al., ECCV 2020, "Accelerating CNN Training by Pruning
Activation Gradients"): DBTD threshold + unbiased stochastic pruning of the output gradient dO,
the fused prune + compress front end, and backward-data / weight-gradient kernels that read the
compressed dO, for conv2d and linear.

  reference.py  readable PyTorch formulas        kernels.py  wrappers over the C++ kernels
  format.py     the compressed dO (SparseGrad)   nn.py       PrunedConv2d / apply_actgrad_pruning
  ops.py        cross-validation ops             bench.py    benchmark cases and what they time
"""

from __future__ import annotations

from ..base import Method
from . import bench
from .format import SparseGrad, compress_reference, rows_cols
from .kernels import (
    conv2d_backward_data,
    conv2d_weight_grad,
    linear_backward_data,
    linear_weight_grad,
    prune,
    prune_compress,
)
from .nn import PrunedConv2d, PrunedLinear, PrunedReLU, actgrad_stats, apply_actgrad_pruning


class ActgradMethod(Method):
    name = "actgrad"
    suite = bench.SUITE
    title = "activation-gradient pruning (DBTD + stochastic pruning of dO)"
    rate_label = "pruning rate p"
    stages = bench.STAGES
    bench = bench

    def accuracy_cases(self, dataset, quick):
        rates = (0.0, 0.9, 0.99) if quick else (0.0, 0.5, 0.9, 0.95, 0.99)
        return [(bench.METHOD_SCHEME, p) for p in rates]

    def apply(self, model, scheme, sparsity, *, seed=0, generator=None):
        return model if sparsity == 0.0 else apply_actgrad_pruning(model, sparsity, seed)

    def training_stats(self, model):
        """Density reached per pruning point (latest backward and mean over the run) and placement."""
        return actgrad_stats(model)

    def tables(self, records):
        """Density reached per captured layer, point, placement and p, captured vs Gaussian (from
        the cached captures only: `python -m sparsebench.methods.actgrad.capture` makes them)."""
        from . import capture

        sources = sorted({(r["case"]["scheme"], r["case"]["layer"], r["metrics"].get("placement", "-"),
                           r["metrics"]["grad_source"]) for r in records
                          if r.get("kind") == "stage" and r["case"].get("suite") == bench.SUITE
                          and r["case"].get("impl") == "sparsebench" and r["metrics"].get("grad_source")})
        out = []
        if sources:
            out.append("actgrad: gradient source of each scheme's rows (scheme / layer / placement: source)\n" +
                       "\n".join(f"  {sc} / {layer} / {pl}: {src}" for sc, layer, pl, src in sources))
        nets = [n for n in capture.NETS if capture.cached(n)]
        if not nets:
            return out + ["actgrad: no captured gradients cached yet (sparsebench run --suite actgrad, or "
                          "python -m sparsebench.methods.actgrad.capture, makes them)"]
        return out + [capture.density_table(capture.density_rows(tuple(nets)))]


    # --- whole-network training (methods/actgrad/train.py) -----------------------------------
    # every conv and hidden linear layer prunes its output gradient; the classifier's dO is the
    # loss gradient itself (batch x classes), not worth a front end, so it stays dense
    dense_last = True
    train_stages = ("forward", "front_end", "backward_data", "weight_grad", "update")

    def train_schemes(self):
        return (bench.METHOD_SCHEME,)

    def layer_refuses(self, module, scheme, sparsity):
        from .train import layer_refuses

        return layer_refuses(module, scheme, sparsity)

    def convert_layer(self, module, scheme, sparsity, *, seed, index, threads, generator):
        from .train import convert_layer

        return convert_layer(module, sparsity, seed=seed, index=index, threads=threads)

    def layer_facts(self, module):
        from .train import layer_facts

        return layer_facts(module)


METHOD = ActgradMethod()

__all__ = [
    "METHOD", "SparseGrad", "compress_reference", "rows_cols", "PrunedConv2d", "PrunedLinear", "PrunedReLU",
    "actgrad_stats",
    "apply_actgrad_pruning", "conv2d_backward_data", "conv2d_weight_grad", "linear_backward_data",
    "linear_weight_grad", "prune", "prune_compress",
]
