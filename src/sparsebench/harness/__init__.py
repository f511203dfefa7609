"""The harness: builds each catalogue case's callables, times them interleaved against the
baselines, and writes one result record per (case, implementation)."""

from .run import run_cases
from .stages import StageBench, Unavailable, build

__all__ = ["StageBench", "Unavailable", "build", "run_cases"]
