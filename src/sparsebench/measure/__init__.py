"""Measurement: timing, memory, FLOP model, machine description and result records.

Definitions (dense/effective FLOPs, speedup, efficiency) follow design/measurement.md.
"""

from .flops import (
    COMPOSITE_STAGES,
    SGD_UPDATE_FLOPS_PER_WEIGHT,
    STAGES,
    Conv2dShape,
    LinearShape,
    dense_flops,
    effective_flops,
    flop_reduction,
)
from .machine import machine_id, machine_record
from .memory import (
    PeakDelta,
    can_reset_peak,
    measure_peak_delta,
    peak_rss_bytes,
    rss_bytes,
    tensor_bytes,
)
from .records import (
    SCHEMA,
    ResultStore,
    default_results_path,
    iter_result_files,
    load_all,
    load_records,
    make_record,
)
from .timer import Timing, speedup, time_callable, time_interleaved

__all__ = [
    "Timing",
    "time_callable",
    "time_interleaved",
    "speedup",
    "PeakDelta",
    "can_reset_peak",
    "rss_bytes",
    "peak_rss_bytes",
    "measure_peak_delta",
    "tensor_bytes",
    "STAGES",
    "COMPOSITE_STAGES",
    "SGD_UPDATE_FLOPS_PER_WEIGHT",
    "Conv2dShape",
    "LinearShape",
    "dense_flops",
    "effective_flops",
    "flop_reduction",
    "machine_record",
    "machine_id",
    "SCHEMA",
    "make_record",
    "ResultStore",
    "load_records",
    "iter_result_files",
    "load_all",
    "default_results_path",
]
