"""The one vocabulary of training stages: every module that names a stage takes it from here.

Atomic stages are single kernels (or one kernel family's call); composite stages are atomic
ones back to back and are counted (FLOPs, bytes) as the sum of their parts. The weight gradient
has two atomic forms: ``weight_grad`` is the full dense dW (what dense training, activation-
gradient pruning and gradient-based regrowth need) and ``weight_grad_sampled`` is dW only at the
kept positions of a sparse weight (an SDDMM: what static-mask sparse training needs). A composite
stage's weight-gradient part is whichever form the case's method uses (``parts``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str
    doc: str
    parts: tuple[str, ...] = ()  # composite: atomic stages run back to back

    @property
    def composite(self) -> bool:
        return bool(self.parts)


WEIGHT_GRAD = "weight_grad"
WEIGHT_GRAD_SAMPLED = "weight_grad_sampled"

_ALL = (
    Stage("forward", "y = layer(x)"),
    Stage("backward_data", "dX from dY (activation gradient)"),
    Stage(WEIGHT_GRAD, "full dense dW from X and dY"),
    Stage(WEIGHT_GRAD_SAMPLED, "dW at the kept positions of a sparse weight only (SDDMM)"),
    Stage("update", "SGD with momentum and weight decay on the trainable weights"),
    Stage("front_end", "a method's own pass before the kernels (e.g. threshold, prune, compress dY)"),
    Stage("mask_update", "change a sparse weight's mask: prune, grow, rebuild the format and its caches, "
                         "remap optimizer state"),
    Stage("backward", "backward_data + the weight gradient, back to back", ("backward_data", WEIGHT_GRAD)),
    Stage("step", "forward + backward of the layer through autograd", ("forward", "backward_data", WEIGHT_GRAD)),
    # gradient compression for data-parallel training (e.g. ternary gradients)
    Stage("encode", "compress a gradient before it is sent (scaler, quantize, pack)"),
    Stage("exchange", "send and receive the gradients of a data-parallel step across ranks"),
    Stage("decode", "unpack received gradients and average them"),
)
STAGES: dict[str, Stage] = {s.name: s for s in _ALL}
ATOMIC = tuple(s.name for s in _ALL if not s.composite)
COMPOSITE = tuple(s.name for s in _ALL if s.composite)
# Stages that are not a GEMM: no FLOP model, reported by time (and bytes moved) only.
DATA_MOVEMENT = ("front_end", "mask_update", "encode", "exchange", "decode")


def check(stage: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    return stage


def parts(stage: str, *, sampled: bool = False) -> tuple[str, ...]:
    """The atomic stages of ``stage`` (itself if atomic); ``sampled``: the weight gradient is the
    one at kept positions (static-mask sparse weights)."""
    s = STAGES[check(stage)]
    names = s.parts or (s.name,)
    if sampled:
        names = tuple(WEIGHT_GRAD_SAMPLED if n == WEIGHT_GRAD else n for n in names)
    return names
