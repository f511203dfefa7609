"""MEST's data efficiency: forgetting events counted in situ, from the forward pass the loss
already does (Toneva et al.'s definition: an example is forgotten when it was classified correctly
at its previous presentation and wrongly at this one), and the two-phase run that drops the
least-forgotten examples after the first phase.

Examples never classified correctly count as forgotten infinitely often (they are never dropped).
"""

from __future__ import annotations

import torch


class ForgettingCounter:
    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0 (training examples), got {n!r}")
        self.n = n
        self.events = torch.zeros(n, dtype=torch.int32)
        self.prev_correct = torch.zeros(n, dtype=torch.bool)
        self.ever_correct = torch.zeros(n, dtype=torch.bool)
        self.presented = torch.zeros(n, dtype=torch.int32)

    def update(self, idx: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        """One presentation of the examples ``idx`` (unique in a batch) with the model's logits."""
        idx = idx.long()
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.n):
            raise ValueError(f"idx must be example indices in [0, {self.n})")
        correct = logits.detach().argmax(1) == y
        seen = self.presented[idx] > 0
        self.events[idx] += (seen & self.prev_correct[idx] & ~correct).to(torch.int32)
        self.prev_correct[idx] = correct
        self.ever_correct[idx] |= correct
        self.presented[idx] += 1

    def keep_after_dropping(self, drop) -> torch.Tensor:
        """Sorted indices of the examples kept when ``drop`` (a count, or a fraction in [0, 1)) of the
        least-forgotten ones are dropped (ties: lower index dropped first; unlearned ones last)."""
        if isinstance(drop, bool) or not isinstance(drop, (int, float)):
            raise ValueError(f"drop must be a count or a fraction in [0, 1), got {drop!r}")
        k = int(drop) if isinstance(drop, int) else int(round(float(drop) * self.n))
        if isinstance(drop, float) and not 0.0 <= drop < 1.0:
            raise ValueError(f"drop as a fraction must be in [0, 1), got {drop}")
        if not 0 <= k <= self.n:
            raise ValueError(f"drop={drop} must leave between 0 and {self.n} examples")
        score = self.events.to(torch.int64).clone()
        score[~self.ever_correct] = torch.iinfo(torch.int64).max
        order = torch.argsort(score, stable=True)
        return torch.sort(order[k:]).values

    def summary(self) -> dict:
        ev = self.events[self.ever_correct]
        return {"examples": self.n, "never_learned": int((~self.ever_correct).sum()),
                "never_forgotten": int(((self.events == 0) & self.ever_correct).sum()),
                "mean_events": float(ev.double().mean()) if ev.numel() else 0.0,
                "max_events": int(self.events.max()) if self.n else 0}
