"""When MEST mutates and by how much.

A schedule mutates every ``every`` epochs (at the end of epochs every, 2*every, ...; never after
the last epoch) with a ratio, in weight-sparsity points, from ``steps``: (until, ratio) pairs,
``until`` a fraction of training, strictly increasing, the last one 1.0. A ratio r moves
round(r / (1 - target) * kept units) units (r of all weights: the authors' prune-to 0.92 /
grow-to 0.90 at a 0.90 target is r = 0.02).

  mest  fixed ratio (default 0.02 throughout)
  em    elastic mutation, the authors' default: 2% until 56% of training, 1% until 75%, then 0%
  ems   elastic mutation with the soft memory bound: at each update prune back to the target
        among old and new weights, then grow r above it and train so until the next update
        (density above target between updates); the last update prunes back to target
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("mest", "em", "ems")
EM_STEPS = ((0.56, 0.02), (0.75, 0.01), (1.0, 0.0))
MEST_STEPS = ((1.0, 0.02),)


@dataclass(frozen=True)
class Schedule:
    kind: str = "em"
    every: int = 5
    steps: tuple[tuple[float, float], ...] = EM_STEPS
    lam: float = 0.0  # the gradient term's weight in the prune score

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"every must be an int >= 1 (epochs between mutations), got {self.every!r}")
        if not self.steps:
            raise ValueError("steps must hold at least one (until, ratio) pair")
        prev = 0.0
        for i, st in enumerate(self.steps):
            if not isinstance(st, (tuple, list)) or len(st) != 2:
                raise ValueError(f"steps[{i}] must be an (until, ratio) pair, got {st!r}")
            until, ratio = float(st[0]), float(st[1])
            if not until > prev:
                raise ValueError(f"steps out of order: steps[{i}] until={until} must be > {prev}")
            if not 0.0 <= ratio < 1.0:
                raise ValueError(f"steps[{i}] ratio must be in [0, 1), got {ratio}")
            prev = until
        if abs(prev - 1.0) > 1e-12:
            raise ValueError(f"steps must end at until=1.0 (the whole run), got {prev}")
        if isinstance(self.lam, bool) or not float(self.lam) >= 0.0:
            raise ValueError(f"lam must be >= 0, got {self.lam!r}")

    @classmethod
    def of(cls, kind: str, **kw) -> "Schedule":
        steps = kw.pop("steps", MEST_STEPS if kind == "mest" else EM_STEPS)
        return cls(kind=kind, steps=tuple(tuple(s) for s in steps), **kw)

    def ratio_at(self, progress: float) -> float:
        """The ratio of an update at ``progress`` (fraction of training done, in (0, 1])."""
        for until, ratio in self.steps:
            if progress <= until + 1e-12:
                return float(ratio)
        return float(self.steps[-1][1])

    def updates(self, epochs: int) -> list[tuple[int, float]]:
        """(epoch index whose end triggers it, ratio) of every update of a run of ``epochs``."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
        return [(e - 1, self.ratio_at(e / epochs)) for e in range(self.every, epochs, self.every)]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "every": self.every, "steps": [list(s) for s in self.steps], "lam": self.lam}
