"""The C++ kernel library: ISA dispatch facts, OpenMP and compiler facts (``info()``). The typed
wrappers over sparsebench._kernels live with the format or method that owns each kernel.

Inputs may be numpy arrays or CPU torch tensors; they are viewed, never copied (a non-contiguous
or wrongly typed input raises TypeError/ValueError naming the argument). Outputs come back as the
input's kind: torch in, torch out (sharing the kernel's buffer).
Every kernel accepts ``isa=`` (None: $SPARSEBENCH_ISA, else the widest usable variant) and
``threads=`` (0: all OpenMP threads).
"""

from __future__ import annotations

import functools
import os
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
