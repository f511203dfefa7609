"""Data-free neuron merging: fully connected network surgery (Srinivas & Babu 2015, saliency
<a_j^2> * ||w_i - w_j||^2) and filter merging (Kim et al. 2020: each L1-pruned filter folded
into its most cosine-similar kept filter through the next layer); accuracy without fine-tuning
vs plain pruning at the same size. Weight surgery on small matrices: no kernel of its own.

  reference.py   saliency, merge_pair, surgery, filter_merge
  experiment.py  merged vs pruned (and pruned + fine-tuned) accuracy on digits / MNIST-5k
  claims.py      the merged-minus-pruned accuracy comparison
  report.py      the report's table and figure of merged vs pruned accuracy (the experiment's records)
"""

from __future__ import annotations

from ..base import Method
from .reference import filter_merge, merge_pair, saliency, surgery


def _merge_vs_prune(claim, records):
    from .claims import merge_vs_prune

    return merge_vs_prune(claim, records)


class _Label:  # what a progress callback reads of a case
    def __init__(self, text: str) -> None:
        self.id = text


class MergingMethod(Method):
    name = "merging"
    title = "data-free neuron merging (FC surgery, filter merging) vs plain pruning"
    own_accuracy_figure = True  # its figures section draws its accuracy runs
    rate_label = "fraction of units removed"
    claim_measures = {"merge_vs_prune": _merge_vs_prune}

    def claim_runs(self, claim, profile_name, out, progress=None):
        """The merged-vs-pruned claim: the experiment (merged, pruned, surgery, pruned +
        fine-tuned) on digits, 3 seeds (full profile: digits and MNIST-5k; smoke: 1 seed, 3
        epochs), records appended to ``out``."""
        if claim.measure.comparison != "merge_vs_prune":
            return
        from .experiment import claim_grid, run, save

        grid = claim_grid(profile_name)
        for i, (dataset, seed, epochs) in enumerate(grid):
            if progress:
                progress(i, len(grid), _Label(f"merging/{dataset}/seed{seed}"))
            save(run(dataset, epochs, seed=seed), out)
        if progress:
            progress(len(grid), len(grid), None)

    def tables(self, records):
        from .report import tables

        return tables(records)

    def figures(self, records, out):
        from .report import figures

        return figures(records, out)


METHOD = MergingMethod()

__all__ = ["METHOD", "filter_merge", "merge_pair", "saliency", "surgery"]
