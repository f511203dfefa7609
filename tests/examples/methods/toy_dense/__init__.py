"""Example of a new training method, as a contributor would add it: this one folder (copied into
src/sparsebench/methods/) is all it takes. It benchmarks the forward stage of every catalogue
layer (ours: torch's dense op again, so its speedup is ~1) and its training hook leaves the
model dense. tests/test_extending.py loads it and checks that the harness, asv, pytest-benchmark
and the accuracy runs pick it up without any other change."""

from __future__ import annotations

from sparsebench.baselines import TORCH_DENSE, problem_inputs, torch_dense
from sparsebench.cases import OURS, BenchCase, StageBench
from sparsebench.measure import dense_flops, tensor_bytes
from sparsebench.methods.base import Method

SUITE = "toy_dense"


def _forward_count(claim, records):
    """A claim measure of the method's own: how many forward records there are (an example)."""
    from sparsebench.claims import Verdict

    n = sum(1 for r in records if r.get("kind") == "stage" and r["case"].get("suite") == SUITE)
    return Verdict(claim.id, claim.claimed_text, str(n), "toy records", "different setup")


class ToyDense(Method):
    name = "toy_dense"
    suite = SUITE
    title = "example method: the dense forward again"
    stages = ("forward",)
    claim_measures = {"toy_forward_count": _forward_count}

    def cases(self, profile):
        for layer in profile.layers:
            for t in profile.threads:
                yield BenchCase(SUITE, layer, "dense", "forward", 0.0, t)

    def impl_names(self, case):
        return (OURS, TORCH_DENSE)

    def build(self, case):
        shape, x, w, dy, _ = problem_inputs(case)
        dense = torch_dense(shape, x, w, dy)["forward"]
        flops = dense_flops(shape, "forward")
        return StageBench(impls={OURS: dense, TORCH_DENSE: dense}, dense_flops=flops, effective_flops=flops,
                          tensor_bytes={OURS: tensor_bytes(w, x), TORCH_DENSE: tensor_bytes(w, x)})

    def accuracy_cases(self, dataset, quick):
        return [("dense", 0.0)]

    def apply(self, model, scheme, sparsity, *, seed=0, generator=None):
        return model


METHOD = ToyDense()
