"""asv suites generated from the methods' benchmark cases in sparsebench.catalogue's profiles
(no second list of shapes, and no method named here).

For every method with benchmark cases there are three classes: Smoke<Method> (the "smoke"
profile: one layer, s = 0.9, core stages, ours and torch-dense: a few minutes), Quick<Method>
(the quick profile) and Full<Method> (the full one): pick with `asv run --bench Smoke` /
`--bench Quick` / `--bench Full` (or any regex, e.g. `--bench SmokeStaticMask`). Each class has
  time_stage                    seconds per call (asv's own timing),
  track_peak_delta_bytes        the stage's own peak-RSS delta, measured as `sparsebench run` does:
                                first call in a fresh child process (runners.memory), not the
                                warm process's,
  track_ns_per_effective_madd   nanoseconds per useful multiply-add (lower is better),
for ours ("sparsebench") and the baselines ("torch-dense", "torch-sparse", ...) as an `impl`
parameter, so a ratio can be read per commit. A peer implementation (SparseProp: unstructured
weights, stages forward / backward / step) runs when it is installed (`sparsebench peers
install`) and raises NotImplementedError (asv: skipped) when not. asv runs each benchmark in its
own process, which is what isolates a peer's crash here; setup raises the stack limit for it.
The suites need a commit from the Method-unit redesign on (sparsebench.methods.all_methods).
"""

import os

import torch

from sparsebench import catalogue
from sparsebench.cases import OURS, BenchCase, Unavailable
from sparsebench.methods import all_methods, build, impl_names
from sparsebench.peers import all_peers


class _Stages:
    suite = ""
    param_names = ["layer", "scheme", "stage", "sparsity", "threads", "impl"]
    timeout = 300
    number = 1
    repeat = (3, 7, 20.0)
    warmup_time = 0.1

    def setup(self, layer, scheme, stage, sparsity, threads, impl):
        case = BenchCase(self.suite, layer, scheme, stage, sparsity, threads)
        peer = all_peers().get(impl)
        if peer is None and impl not in impl_names(case):
            raise NotImplementedError(f"{impl} has no {suite_stage(case)} stage (or {scheme} does not apply to {layer})")
        try:
            bench = self._build_peer(peer, case) if peer is not None else build(case)
        except Unavailable as exc:
            raise NotImplementedError(str(exc)) from exc
        if impl not in bench.impls:
            raise NotImplementedError(f"{impl} has no {suite_stage(case)} stage")
        self.fn = bench.impls[impl]
        self._case, self._impl, self._peer = case, impl, peer
        self.effective = bench.effective_flops
        self._threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        self.fn()  # warm caches and lazy initialisation

    @staticmethod
    def _build_peer(peer, case):
        if not peer.applies(case):
            raise NotImplementedError(f"{peer.PEER} has no {case.scheme}/{case.stage} stage for {case.layer}")
        st = peer.status()
        if not st["installed"]:
            raise NotImplementedError(st["reason"])
        # its OpenMP runtime reads these when it loads; a process measures one thread count
        loaded = os.environ.get("SPARSEBENCH_PEER_THREADS")
        if loaded and int(loaded) != case.threads:
            raise NotImplementedError(f"{peer.PEER} already loaded at {loaded} threads in this process")
        os.environ["SPARSEBENCH_PEER_THREADS"] = str(case.threads)
        peer.prepare_process(case.threads)
        return peer.build(case)

    def teardown(self, *params):
        # asv calls teardown after a skipped setup too
        if hasattr(self, "_threads"):
            torch.set_num_threads(self._threads)

    def time_stage(self, *params):
        self.fn()

    def track_peak_delta_bytes(self, *params):
        if self._peer is not None:
            raise NotImplementedError("a peer's memory is not measured in a fresh process")
        from sparsebench.runners.memory import MemoryRunner

        with MemoryRunner() as runner:
            return runner.measure(self._case)[self._impl].get("peak_delta_bytes") or 0

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


def _impls(cases) -> list[str]:
    """Ours and the baselines a method's cases time, then the peers that apply to any of them."""
    names = sorted({i for c in cases for i in impl_names(c)}, key=lambda i: (i != OURS, i))
    return names + sorted({p.PEER for p in all_peers().values() if any(p.applies(c) for c in cases)})


def _params(prof, method, impls=None):
    cases = list(method.cases(prof))
    grid = [
        sorted({c.layer for c in cases}),
        sorted({c.scheme for c in cases}),
        sorted({c.stage for c in cases}),
        sorted({c.sparsity for c in cases}),
        sorted({c.threads for c in cases}),
        list(impls) if impls is not None else _impls(cases),
    ]
    sel = _selection()
    return [[v for v in values if _Stages.param_names[i] not in sel or str(v) in sel[_Stages.param_names[i]]]
            for i, values in enumerate(grid)]


CORE_STAGES = ("forward", "backward_data", "weight_grad", "weight_grad_sampled", "backward")


def _smoke(method):
    """The smoke grid: catalogue profile "smoke", the core stages, ours and torch-dense only."""
    grid = _params(catalogue.PROFILES["smoke"], method, (OURS, "torch-dense"))
    # a method with none of the core stages (TernGrad: encode / decode) keeps its own
    grid[2] = [s for s in grid[2] if s in CORE_STAGES] or grid[2]
    return grid


def _class_name(method_name: str) -> str:
    return "".join(part.capitalize() for part in method_name.split("_"))


for _method in all_methods().values():
    if not _method.suite:
        continue
    for _prefix, _grid in (("Smoke", _smoke(_method)), ("Quick", _params(catalogue.PROFILES["quick"], _method)),
                           ("Full", _params(catalogue.PROFILES["full"], _method))):
        if not all(_grid):  # an empty parameter list is no benchmark (asv refuses it)
            continue
        _name = _prefix + _class_name(_method.name)
        globals()[_name] = type(_name, (_Stages,), {"suite": _method.suite, "params": _grid, "__module__": __name__})
