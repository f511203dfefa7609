"""SWAT, Sparse Weight Activation Training (Raihan & Aamodt, NeurIPS 2020): the forward and
backward-data pass with TopK(|W|), TopK(|x|) kept compressed from the forward to the weight
gradient, dense weights updated with the full gradient; exact top-K selection kernels (sampled
bracket / radix select on the float bit pattern) and the sparse-input weight-gradient kernel.

  reference.py  sort-based PyTorch formulas       kernels.py  wrappers over kernels/swat/
  format.py     the stored activation              nn.py       SwatConv2d / SwatLinear / apply_swat
  ops.py        cross-validation ops               bench.py    benchmark cases and what they time
  claims.py     the claim measures
"""

from __future__ import annotations

from ..base import Method
from . import bench, claims
from .format import SparseActivation
from .kernels import Selection, compress, compress_activation, conv2d_weight_grad, linear_weight_grad, select
from .kernels import topk_compress
from .nn import SwatConv2d, SwatLinear, apply_swat, build_topk_weight, swat_stats

CHANNEL_PREFIX = "swat-channel-a"
UNSTRUCTURED_PREFIX = "swat-a"


def parse_scheme(scheme: str) -> tuple[str, float]:
    """(variant, activation sparsity) of an accuracy scheme "swat-a0.9" / "swat-channel-a0.9"."""
    for prefix, variant in ((CHANNEL_PREFIX, "channel"), (UNSTRUCTURED_PREFIX, "unstructured")):
        if scheme.startswith(prefix):
            try:
                return variant, float(scheme[len(prefix):])
            except ValueError:
                break
    raise ValueError(f"SWAT scheme must be 'swat-a<act sparsity>' or 'swat-channel-a<act sparsity>', got {scheme!r}")


class SwatMethod(Method):
    name = "swat"
    suite = bench.SUITE
    title = "SWAT: top-K weights (forward, backward-data) and top-K stored activations (weight gradient)"
    rate_label = "weight = activation sparsity"
    stages = bench.STAGES
    bench = bench
    claim_measures = claims.MEASURES
    dense_first = True

    def accuracy_cases(self, dataset, quick):
        if quick:
            return [("swat-a0.9", 0.9), ("swat-a0.5", 0.5)]
        return [*((f"swat-a{a:g}", w) for w in (0.5, 0.8, 0.9, 0.95) for a in (0.5, 0.9)),
                ("swat-a0.8", 0.8),  # the paper's ResNet-50 setting: 80% weights and activations
                ("swat-channel-a0.9", 0.9), ("swat-channel-a0.5", 0.5)]

    def apply(self, model, scheme, sparsity, *, seed=0, generator=None, period=10):
        variant, act = parse_scheme(scheme)
        return apply_swat(model, sparsity, act, period=period, variant=variant)

    def training_stats(self, model):
        return swat_stats(model)

    def tables(self, records):
        """Step time vs refresh period (derived from the two measured step medians per layer), the
        selection benchmark, the whole-network counts, and accuracy vs dense over seeds."""
        from .claims import _recs
        from .network import NETWORK_KIND
        from .selectbench import SELECT_KIND

        out, lines = [], []
        for s in sorted({r["case"]["sparsity"] for r in records if r.get("case", {}).get("suite") == bench.SUITE}):
            reuse, refresh = _recs(records, "swat", "step", s), _recs(records, "swat-refresh", "step", s)
            for key in sorted(set(reuse) & set(refresh)):
                sa, sb = reuse[key].get("speedup_vs_torch_dense"), refresh[key].get("speedup_vs_torch_dense")
                if not sa or not sb:
                    continue
                # each step time as a multiple of its own case's torch-dense step (timed side by side),
                # so load drift between the two cases cancels: t(p) = t_reuse + (t_refresh - t_reuse) / p
                cells = [f"p={p}: {1.0 / (1.0 / sa + (1.0 / sb - 1.0 / sa) / p):.2f}x" for p in bench.PERIODS]
                lines.append(f"  {key[0]} t{key[1]} s={s:g}: " + ", ".join(cells))
        if lines:
            out.append("\n".join(["swat: whole layer step speedup vs torch-dense by refresh period, derived: "
                                  "1 / (1/S_reuse + (1/S_refresh - 1/S_reuse) / p)", *lines]))
        newest = {}
        for r in sorted((r for r in records if r.get("kind") in (SELECT_KIND, NETWORK_KIND)),
                        key=lambda r: str(r.get("created", ""))):
            newest[(r["kind"], r["case"]["id"])] = r
        sel = sorted((r for (k, _), r in newest.items() if k == SELECT_KIND),
                     key=lambda r: (r["case"]["n"], r["case"]["threads"]))
        if sel:
            from .selectbench import table

            out.append("swat: selection (k-th largest |x|, k = 10% of n), ours vs torch, medians of interleaved "
                       "rounds\n" + table([r["metrics"] for r in sel]))
        net = sorted((r for (k, _), r in newest.items() if k == NETWORK_KIND),
                     key=lambda r: (r["case"]["dataset"], r["case"]["weights"], r["case"]["acts"]))
        if net:
            rows = [f"{'data':<7} {'weights':>7} {'acts':>5} {'FLOPs':>7} {'stored acts':>11} {'bwd weights':>11}"]
            for r in net:
                c, t = r["case"], r["metrics"]["total"]
                rows.append(f"{c['dataset']:<7} {c['weights']:>7g} {c['acts']:>5g} {-t['flop_reduction']:>+7.1%} "
                            f"{-t['act_memory_reduction']:>+11.1%} {-t['weight_memory_reduction']:>+11.1%}")
            out.append("swat: whole accuracy CNN (first conv dense), training FLOPs (forward + backward), stored "
                       "activation bytes and backward-pass weight bytes vs dense\n" + "\n".join(rows))
        from ...reports.data import accuracy_summary

        acc = [r for r in accuracy_summary(r for r in records if r.get("kind") == "accuracy"
                                           and r["case"].get("method") in ("swat", "dense"))]
        if any(r["method"] == "swat" for r in acc):
            rows = [f"{'data':<7} {'run':<18} {'weights':>7} {'ep':>3} {'seeds':>5} {'mean':>7} {'min':>7} {'max':>7} "
                    f"{'vs dense':>9}"]
            for r in acc:
                d = "-" if r["vs_dense_pts"] is None else f"{r['vs_dense_pts']:+.2f}"
                rows.append(f"{r['dataset']:<7} {r['scheme']:<18} {r['sparsity']:>7g} {r['epochs'] or '-':>3} "
                            f"{len(r['seeds']):>5} {r['mean']:>7.4f} {r['min']:>7.4f} {r['max']:>7.4f} {d:>9}")
            out.append("swat: test accuracy over seeds (run swat-a<A>: A = activation sparsity; weights = weight "
                       "sparsity; vs dense in points, paired by seed)\n" + "\n".join(rows))
        return out


    def claim_runs(self, claim, profile_name, out, progress=None):
        """The swat-suite cases a claim reads (claims.CLAIM_STAGES) at its sparsity, those not
        already in ``out`` (the claims share cases); memory is analytic here, no child runs."""
        from pathlib import Path

        from ...harness import run_cases
        from ...measure import load_records
        from .claims import claim_cases

        out = Path(out)
        done = {r["case"].get("id") for r in load_records(out) if r.get("kind") == "stage"} if out.exists() else set()
        cases = [c for c in claim_cases(claim, profile_name, self.accepts) if c.id not in done]
        if cases:
            run_cases(cases, results_dir=out.parent, out=out, progress=progress, peers=False, memory=False)


METHOD = SwatMethod()

__all__ = ["METHOD", "SparseActivation", "Selection", "SwatConv2d", "SwatLinear", "apply_swat", "build_topk_weight",
           "compress", "compress_activation", "conv2d_weight_grad", "linear_weight_grad", "select", "swat_stats",
           "topk_compress", "parse_scheme"]
