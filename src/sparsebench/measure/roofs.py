"""The machine's two roofs for a roofline plot, measured at a thread count when a run starts:
the compute roof as torch's dense GEMM rate (oneDNN / MKL run near the FMA peak, design/anchors.md)
and the memory roof as the bandwidth of a copy between two reused buffers larger than the caches.
Both are torch's own rates, what a sparse kernel is measured against, not datasheet numbers."""

from __future__ import annotations

import torch

from .timer import time_callable

GEMM_N = 1024  # 2 * 1024^3 = 2.1 GFLOP: tens of ms at this machine's rate, past the warm-up
COPY_BYTES = 64 << 20  # past the last-level cache of the machines this runs on


def machine_roofs(threads: int) -> dict:
    """{"threads", "gemm_gflops", "copy_gbps"}: median rates at ``threads`` intra-op threads."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    from ..runners.inprocess import torch_threads

    with torch_threads(threads):
        a = torch.randn(GEMM_N, GEMM_N)
        b = torch.randn(GEMM_N, GEMM_N)
        c = torch.empty(GEMM_N, GEMM_N)
        gemm = time_callable(lambda: torch.mm(a, b, out=c), repeats=5, max_total_s=1.0)
        src = torch.ones(COPY_BYTES // 4)
        dst = torch.empty_like(src)
        copy = time_callable(lambda: dst.copy_(src), repeats=5, max_total_s=1.0)
    return {"threads": threads,
            "gemm_gflops": 2 * GEMM_N ** 3 / gemm.median_s / 1e9,
            # a copy reads and writes every byte
            "copy_gbps": 2 * COPY_BYTES / copy.median_s / 1e9}
