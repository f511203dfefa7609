"""asv suites generated from sparsebench.catalogue (no second list of shapes).

Classes prefixed Smoke* cover the "smoke" profile (one layer, s = 0.9, core stages, ours and
torch-dense: a few minutes), Quick* the quick profile and Full* the full one: pick with
`asv run --bench Smoke` / `--bench Quick` / `--bench Full` (or any regex). Each class has
  time_stage                    seconds per call (asv's own timing),
  track_peak_delta_bytes        the stage's own peak-RSS delta (not the process's),
  track_ns_per_effective_madd   nanoseconds per useful multiply-add (lower is better),
for ours ("sparsebench") and the baselines ("torch-dense", "torch-sparse") as an `impl`
parameter, so a ratio can be read per commit. impl "sparseprop" (the SparseProp peer, unstructured
weights, stages forward / backward / step) runs when it is installed (`sparsebench peers install`)
and raises NotImplementedError (asv: skipped) when not. asv runs each benchmark in its own
process, which is what isolates a SparseProp crash here; setup raises the stack limit for it.
"""

import os
import sys

import torch

from sparsebench import catalogue
from sparsebench.harness.run import torch_threads
from sparsebench.harness.stages import OURS, Unavailable, build

try:  # asv runs these suites against older commits too: newer helpers are optional
    from sparsebench.harness.stages import impl_names
except ImportError:
    impl_names = None
from sparsebench.measure import measure_peak_delta

IMPLS = (OURS, "torch-dense", "torch-sparse", "sparseprop")


class _Stages:
    suite = "weight_sparse"
    param_names = ["layer", "scheme", "stage", "sparsity", "threads", "impl"]
    timeout = 300
    number = 1
    repeat = (3, 7, 20.0)
    warmup_time = 0.1

    def setup(self, layer, scheme, stage, sparsity, threads, impl):
        case = catalogue.BenchCase(self.suite, layer, scheme, stage, sparsity, threads)
        if not catalogue.scheme_applies(scheme, catalogue.LAYERS[layer]):
            raise NotImplementedError(f"{scheme} does not apply to {layer}")
        if impl_names is not None and impl != "sparseprop" and impl not in impl_names(case):
            raise NotImplementedError(f"{impl} has no {suite_stage(case)} stage")
        try:
            bench = self._build_peer(case) if impl == "sparseprop" else build(case)
        except Unavailable as exc:
            raise NotImplementedError(str(exc)) from exc
        if impl not in bench.impls:
            raise NotImplementedError(f"{impl} has no {suite_stage(case)} stage")
        self.fn = bench.impls[impl]
        self.effective = bench.effective_flops
        self._threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        self.fn()  # warm caches and lazy initialisation

    @staticmethod
    def _build_peer(case):
        from sparsebench.harness.stages import build_peer
        from sparsebench.peers import sparseprop as sp

        if not sp.applies(case):
            raise NotImplementedError(f"sparseprop has no {case.scheme}/{case.stage} stage for {case.layer}")
        st = sp.status()
        if not st["installed"]:
            raise NotImplementedError(st["reason"])
        # its OpenMP runtime reads these when it loads; a process measures one thread count
        loaded = os.environ.get("SPARSEBENCH_PEER_THREADS")
        if loaded and int(loaded) != case.threads and "backend" in sys.modules:
            raise NotImplementedError(f"sparseprop already loaded at {loaded} threads in this process")
        os.environ["SPARSEBENCH_PEER_THREADS"] = str(case.threads)
        sp.prepare_process(case.threads)
        return build_peer(case)

    def teardown(self, *params):
        # asv calls teardown after a skipped setup too
        if hasattr(self, "_threads"):
            torch.set_num_threads(self._threads)

    def time_stage(self, *params):
        self.fn()

    def track_peak_delta_bytes(self, *params):
        return measure_peak_delta(self.fn).peak_delta_bytes or 0

    track_peak_delta_bytes.unit = "bytes"

    def track_ns_per_effective_madd(self, *params):
        import time

        t0 = time.perf_counter()
        self.fn()
        dt = time.perf_counter() - t0
        return dt * 1e9 / max(self.effective / 2, 1)

    track_ns_per_effective_madd.unit = "ns"


SELECT_ENV = "SPARSEBENCH_ASV_SELECT"


def suite_stage(case) -> str:
    return f"{case.suite}/{case.stage}"


def _selection() -> dict:
    """SPARSEBENCH_ASV_SELECT="layer=resnet-128x16;scheme=unstructured,block;impl=sparsebench" narrows
    the parameter grid (asv's --bench matches benchmark names, not parameter values). asv passes the
    environment to both discovery and runs, so both see the same grid."""
    out = {}
    for part in filter(None, os.environ.get(SELECT_ENV, "").split(";")):
        name, _, values = part.partition("=")
        out[name.strip()] = {v.strip() for v in values.split(",")}
    return out


def _params(prof, suite, impls=IMPLS):
    cases = list(catalogue.SUITES[suite](prof))
    grid = [
        sorted({c.layer for c in cases}),
        sorted({c.scheme for c in cases}),
        sorted({c.stage for c in cases}),
        sorted({c.sparsity for c in cases}),
        sorted({c.threads for c in cases}),
        list(impls),
    ]
    sel = _selection()
    return [[v for v in values if _Stages.param_names[i] not in sel or str(v) in sel[_Stages.param_names[i]]]
            for i, values in enumerate(grid)]


CORE_STAGES = ("forward", "backward_data", "weight_grad", "backward")


def _smoke(suite, impls):
    """The smoke grid: catalogue profile "smoke", the core stages, ours and torch-dense only."""
    prof = catalogue.PROFILES.get("smoke")
    if prof is None:  # a commit from before the smoke profile: its quick profile's first layer at 0.9
        q = catalogue.PROFILES["quick"]
        prof = catalogue.Profile(layers=q.layers[:1], sparsities=(0.9,), rates=(0.9,), schemes=q.schemes, threads=(1,))
    grid = _params(prof, suite, impls)
    grid[2] = [s for s in grid[2] if s in CORE_STAGES]
    return grid


class SmokeWeightSparse(_Stages):
    params = _smoke("weight_sparse", (OURS, "torch-dense"))


class SmokeActGrad(_Stages):
    suite = "actgrad"
    params = _smoke("actgrad", (OURS, "torch-dense"))


class QuickWeightSparse(_Stages):
    params = _params(catalogue.PROFILES["quick"], "weight_sparse")


class FullWeightSparse(_Stages):
    params = _params(catalogue.PROFILES["full"], "weight_sparse")


class QuickActGrad(_Stages):
    suite = "actgrad"
    params = _params(catalogue.PROFILES["quick"], "actgrad", (OURS, "torch-dense", "torch-reference"))


class FullActGrad(_Stages):
    suite = "actgrad"
    params = _params(catalogue.PROFILES["full"], "actgrad", (OURS, "torch-dense", "torch-reference"))
