"""The harness: enumerates the methods' benchmark cases, runs them on the runners (ours and the
baselines in process, peers in child processes) and writes one result record per (case,
implementation)."""

from ..cases import StageBench, Unavailable
from ..methods import build, impl_names
from .run import run_cases

__all__ = ["StageBench", "Unavailable", "build", "impl_names", "run_cases"]
