"""What a training method provides, so the harness, asv suites, pytest-benchmark, accuracy runs,
validate and reports can enumerate methods without naming one.

A method package (``methods/<name>/``) holds its PyTorch reference, kernel wrappers, registry
ops (``ops.py``), and declares ``METHOD``, an instance of a Method subclass, in its
``__init__``. The package is found by walking ``sparsebench.methods``: adding a method touches
only its own folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

if TYPE_CHECKING:  # types only: the harness imports methods, not the other way round
    from pathlib import Path

    from torch import nn

    from ..cases import BenchCase, StageBench
    from ..catalogue import Profile


class Method:
    """Override what the method has; the defaults say it has nothing of that kind, or, where the
    method names a ``bench`` module, delegate to that module's functions of the same name
    (cases, build, impl_names, accepts)."""

    bench: Any = None  # the module of its benchmark cases and stage builders, if any

    name: str = ""  # the package name
    suite: str = ""  # the records' suite field of its benchmark cases
    title: str = ""  # one line for tables and reports
    # its figures draw its own accuracy runs (axes the generic accuracy panel cannot label, e.g.
    # a lambda or a variant grid): the report's generic accuracy figure leaves it out
    own_accuracy_figure: bool = False
    rate_label: str = "sparsity"  # what BenchCase.sparsity means for it (axis label)
    stages: tuple[str, ...] = ()  # its benchmark stages in report order (sparsebench.stages names)
    # claim comparisons it defines beyond the generic ones (sparsebench.claims):
    # name -> fn(claim, records) -> Verdict
    claim_measures: dict[str, Callable[..., Any]] = {}

    # --- benchmarks (what the harness times) ----------------------------------------------
    def _bench(self, fn: str):
        return getattr(self.bench, fn, None) if self.bench is not None else None

    def cases(self, profile: "Profile") -> Iterator["BenchCase"]:
        """Its benchmark cases in a catalogue profile (only those its formats accept)."""
        fn = self._bench("cases")
        return fn(profile) if fn else iter(())

    def build(self, case: "BenchCase") -> "StageBench":
        """The callables of one case (ours and the baselines), prepared outside timing;
        raises cases.Unavailable when the case cannot run here."""
        fn = self._bench("build")
        if fn is None:
            raise NotImplementedError(f"method {self.name!r} has no benchmark cases")
        return fn(case)

    def accepts(self, case: "BenchCase") -> bool:
        """Whether it can build this case (e.g. its format accepts the layer and sparsity)."""
        fn = self._bench("accepts")
        return fn(case) if fn else True

    def refusals(self, profile: "Profile") -> list[str]:
        """Why some of the profile's layers get no case of this method (e.g. "pattern: needs 3x3
        kernels, got 1x1 for <layer>"), one line each."""
        return []

    def dense_forward_case(self, layer: str, sparsity: float | None, threads: int) -> "BenchCase | None":
        """A case of this method whose torch-dense implementation times the layer's dense forward
        (claims that add the dense forward to a backward measurement), or None."""
        return None

    def impl_names(self, case: "BenchCase") -> tuple[str, ...]:
        """The implementations build(case) times, known without building anything."""
        fn = self._bench("impl_names")
        return fn(case) if fn else ()

    def scheme_label(self, scheme: str) -> str:
        """How a case's scheme is named in tables and plots."""
        return scheme

    # --- training (accuracy runs and whole-network runs) ------------------------------------
    def accuracy_cases(self, dataset: str, quick: bool) -> Iterable[tuple[str, float]]:
        """(scheme, sparsity or rate) pairs the accuracy runs train on ``dataset``."""
        return ()

    def apply(self, model: "nn.Module", scheme: str, sparsity: float, *, seed: int = 0,
              generator: Any = None) -> "nn.Module":
        """The training hook: ``model`` converted to train with the method (in place or new)."""
        raise NotImplementedError(f"method {self.name!r} has no training hook")

    def training_stats(self, model: "nn.Module") -> dict:
        """Per-layer figures a training run records beside its accuracy (e.g. the density an
        activation-gradient pruning layer reached); {} when the method has none."""
        return {}

    def tables(self, records: list) -> list[str]:
        """Text tables of the method's own `sparsebench table` / `run` prints after the speedup
        table (e.g. densities reached on captured gradients); [] when it has none. The report
        shows them too, under the method's own heading."""
        return []

    def figures(self, records: list, out: "Path") -> list[tuple[str, str]]:
        """The method's own report figures drawn from ``records`` into the folder ``out``, as
        (file name relative to ``out``, caption); [] when it has none or nothing to draw."""
        return []


    # --- whole-network training (`sparsebench train`; safe defaults: the method has none) ----
    # first / last layer policy: whether a network's first and last conv / linear layer stay dense
    dense_first: bool = False
    dense_last: bool = False
    # the stages its layers report inside a step (sparsebench.profiling ranges), in report order
    train_stages: tuple[str, ...] = ()

    def train_schemes(self) -> tuple[str, ...]:
        """The schemes a whole-network run can take (`sparsebench train --method <scheme>` finds
        the method by them); the first is its default."""
        return ()

    def layer_refuses(self, module: "nn.Module", scheme: str, sparsity: float) -> str | None:
        """Why this method cannot train ``module`` (a leaf nn.Conv2d / nn.Linear) on ``scheme`` at
        ``sparsity``, so it stays dense; None if it can."""
        return f"method {self.name!r} has no whole-network training hook"

    def convert_layer(self, module: "nn.Module", scheme: str, sparsity: float, *, seed: int, index: int,
                      threads: int, generator: Any) -> "nn.Module":
        """The method's twin of one leaf layer (called only where layer_refuses gives None)."""
        raise NotImplementedError(f"method {self.name!r} has no whole-network training hook")

    def mask_update(self, model: "nn.Module", optimizer: Any, generator: Any) -> int:
        """One mask change of every converted layer (MEST / SET style); units changed (0: none)."""
        return 0

    def layer_facts(self, module: "nn.Module") -> dict:
        """What a converted layer reached after the run: e.g. {"weight_density": ...} or
        {"grad_density": ...} (on this model's real gradients), and a "mask_digest" when it
        holds a mask (checked identical across data-parallel ranks)."""
        return {}

    def refused_cases(self, profile: "Profile") -> Iterator[tuple["BenchCase", str]]:
        """Catalogue cases of its grid that it cannot build, each with the reason, so runs record
        them as unavailable instead of dropping them."""
        fn = self._bench("refused_cases")
        return fn(profile) if fn else iter(())

    # --- training-loop hooks (accuracy runs; safe default: the method has none) -------------
    def train_hooks(self, model: "nn.Module", optimizer: Any, case: Any, n_examples: int) -> Any:
        """An object the accuracy loop calls, or None: ``epoch_order(epoch, order) -> order`` (the
        examples of an epoch, e.g. a subset for data-efficient training), ``after_forward(idx,
        logits, y)`` (the loss's own forward pass), ``end_epoch(epoch)`` (e.g. a mask change) and
        ``stats() -> dict`` (merged into the run's metrics)."""
        return None

    def claim_runs(self, claim: Any, profile_name: str, out: Any, progress: Any = None) -> None:
        """Measurements a claim of this method needs beyond catalogue cases, networks and accuracy
        runs (`sparsebench validate` calls it; records appended to ``out``); default: none."""
        return None

    def __repr__(self) -> str:
        return f"<method {self.name}: {self.title}>"
