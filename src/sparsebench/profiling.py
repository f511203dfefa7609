"""Named profiler ranges for the training stages inside sparse layers, so a whole-network run
(`sparsebench train`, torch.profiler) can attribute a layer's backward to its stages.

``stage_range("backward_data")`` is a torch.profiler record_function named
``sparsebench::backward_data`` while a profiler is active, and a no-op context otherwise (no
dispatcher call on the timed path). Stage names come from sparsebench.stages.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

PREFIX = "sparsebench::"


def stage_range(stage: str):
    if torch.autograd._profiler_enabled():
        return torch.autograd.profiler.record_function(PREFIX + stage)
    return nullcontext()
