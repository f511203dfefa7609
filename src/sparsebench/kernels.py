"""The C++ kernel library: ISA dispatch facts and thin, typed wrappers over sparsebench._kernels.

Inputs may be numpy arrays or CPU torch tensors; they are viewed, never copied (a non-contiguous
or wrongly typed input raises TypeError/ValueError naming the argument). Outputs come back as the
input's kind: torch in, torch out (sharing the kernel's buffer).
Every kernel accepts ``isa=`` (None: $SPARSEBENCH_ISA, else the widest usable variant) and
``threads=`` (0: all OpenMP threads).
"""

from __future__ import annotations

import functools
import os
import statistics
from typing import Any

import numpy as np
import torch  # imported first so the extension reuses torch's OpenMP runtime (same soname)

from . import _kernels

ISA_ENV = "SPARSEBENCH_ISA"
# Every variant of the build's one ISA list (CMakeLists.txt, sb_isa_variant), in preference order.
KNOWN_ISAS = tuple(_kernels.known_isas())


def compiled_isas() -> list[str]:
    return list(_kernels.compiled_isas())


def usable_isas() -> list[str]:
    return list(_kernels.usable_isas())


def resolve_isa(isa: str | None = None) -> str:
    """The variant a kernel call with this ``isa=`` runs; raises ValueError if it cannot run."""
    return _kernels.resolve_isa(isa)


def openmp_runtimes() -> list[str]:
    """Paths of the OpenMP runtimes mapped into this process (one is the healthy case)."""
    names = ("libgomp", "libiomp", "libomp")
    found: set[str] = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                if any(n in os.path.basename(path) for n in names):
                    found.add(path)
    except OSError:
        return []
    return sorted(found)


@functools.lru_cache(maxsize=1)
def _cpu() -> dict[str, Any]:
    import cpuinfo  # slow (spawns a probe): cached

    return cpuinfo.get_cpu_info()


def info() -> dict[str, Any]:
    """Compiled and usable variants, the chosen one, CPU, OpenMP and compiler facts."""
    cpu = _cpu()
    build = _kernels.build_info()
    try:
        chosen, error = resolve_isa(None), None
    except ValueError as exc:  # e.g. SPARSEBENCH_ISA names a variant this CPU lacks
        chosen, error = None, str(exc)
    runtimes = openmp_runtimes()
    return {
        "compiled": compiled_isas(),
        "usable": usable_isas(),
        "chosen": chosen,
        "chosen_error": error,
        "env": os.environ.get(ISA_ENV),
        "cpu_brand": cpu.get("brand_raw", "unknown"),
        "cpu_arch": cpu.get("arch_string_raw", "unknown"),
        "cpu_flags": sorted(cpu.get("flags", [])),
        "openmp": {
            "version": build["openmp_version"],
            "max_threads": build["omp_max_threads"],
            "runtimes": runtimes,
            "shared_with_torch": len(runtimes) <= 1,
        },
        "torch_threads": torch.get_num_threads(),
        "compiler": build["compiler"],
        "build_type": build["build_type"],
        "cxx_flags": build["cxx_flags"],
        "isa_flags": dict(build["isa_flags"]),
    }


def _like(out: np.ndarray, template: Any) -> Any:
    """Return out as the same kind (torch or numpy) as template, without copying."""
    return torch.from_numpy(out) if isinstance(template, torch.Tensor) else out


def check_rate(p: float, name: str = "p") -> float:
    """A pruning rate in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(p).__name__}")
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")
    return float(p)


def normal_quantile_for_rate(p: float) -> float:
    """z = Phi^-1((1 + p) / 2): the |g| quantile that prunes a fraction p of N(0, s^2)."""
    return statistics.NormalDist().inv_cdf((1.0 + check_rate(p)) / 2.0)


# --- activation-gradient pruning (DBTD + stochastic pruning) --------------------------------


def abs_sum(g: Any, *, isa: str | None = None, threads: int = 0) -> float:
    return _kernels.abs_sum(g, isa=isa, threads=threads)


def dbtd_threshold(g: Any, p: float, *, isa: str | None = None, threads: int = 0) -> float:
    """DBTD threshold tau for pruning rate p (float32 value returned as a Python float)."""
    return _kernels.dbtd_threshold(g, normal_quantile_for_rate(p), isa=isa, threads=threads)


def stochastic_prune(
    g: Any, tau: float, seed: int, *, out: Any = None, isa: str | None = None, threads: int = 0
) -> tuple[Any, int]:
    """Stochastic pruning of g below tau; returns (pruned, nnz)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    result, nnz = _kernels.stochastic_prune(g, float(tau), int(seed), out=out, isa=isa, threads=threads)
    return (out if out is not None else _like(result, g)), nnz
