"""What a benchmark case is and what building one yields, shared by the methods (which define
cases and build them), the runners (which time them) and the harness (which records them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

# The implementation name of sparsebench's own kernels in every record.
OURS = "sparsebench"


class Unavailable(Exception):
    """The case cannot run here (format or kernel not built, stage not defined): recorded, not fatal."""


@dataclass(frozen=True)
class BenchCase:
    suite: str  # the method's suite ("weight_sparse", "actgrad", ...)
    layer: str  # a catalogue layer name
    scheme: str  # the weight format, or the method's own variant name
    stage: str  # a name from sparsebench.stages
    sparsity: float  # weight sparsity, or the method's rate (e.g. the pruning rate p)
    threads: int

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.layer}/{self.scheme}/{self.stage}/s{self.sparsity:g}/t{self.threads}"

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def layer_spec(self):
        from .catalogue import layer

        return layer(self.layer)


@dataclass
class StageBench:
    """The callables one case times (impl name -> zero-argument callable) and its models."""

    impls: dict[str, Callable[[], Any]]
    dense_flops: int
    effective_flops: int
    tensor_bytes: dict[str, int]
    info: dict[str, Any] = field(default_factory=dict)
    bytes_moved: int | None = None  # memory-bound stages (front end): bytes read + written
    # impl timed beside the others so each one's cost also reads as a multiple of it (mask_update
    # vs one forward of the same layer)
    ratio_to: str | None = None


def grid(suite: str, prof, schemes, stages, accepts: Callable[["BenchCase"], bool]):
    """The cases of ``suite`` over prof's layers x ``schemes`` x ``stages`` x prof's sparsities
    and threads that ``accepts`` keeps (every method's ``cases`` walks this grid)."""
    for layer in prof.layers:
        for scheme in schemes:
            for stage in stages:
                for s in prof.sparsities:
                    for t in prof.threads:
                        case = BenchCase(suite, layer, scheme, stage, s, t)
                        if accepts(case):
                            yield case
