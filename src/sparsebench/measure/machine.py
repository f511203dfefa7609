"""What machine and software a result came from, so results of several machines can be compared."""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["machine_record", "machine_id"]

# Flags that decide which kernel variant can run. x86 spells them avx2/fma/avx512*,
# aarch64 kernels report "asimd" (NEON), some 32-bit ARM kernels "neon".
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "neon", "asimd")


@functools.lru_cache(maxsize=1)
def _cpu_info() -> dict:
    """py-cpuinfo's record; slow (it may spawn a subprocess), so read it once per process."""
    try:
        import cpuinfo

        return dict(cpuinfo.get_cpu_info())
    except Exception as exc:  # a CPU we cannot describe must not stop a benchmark run
        return {"error": f"{type(exc).__name__}: {exc}"}


def _mem_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


_SIZE_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


def _sysfs_caches() -> dict[int, int]:
    """{level: bytes of one instance} for cpu0's data/unified caches, from Linux sysfs.

    Preferred over py-cpuinfo, whose l2/l3 figures can be wrong: on an EPYC VM it reported
    l2 = 2 MiB (sum over cores) and l3 = 1 MiB where sysfs and lscpu say 1 MiB per core and
    32 MiB shared.
    """
    caches: dict[int, int] = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction" or not size:
            continue
        unit = _SIZE_UNITS.get(size[-1].upper(), 1)
        try:
            caches[level] = int(size.rstrip("KkMmGg")) * unit
        except ValueError:
            continue
    return caches


def _cache_record(info: dict) -> dict:
    caches = _sysfs_caches()
    if caches:
        return {
            "l1d_cache_bytes": caches.get(1),
            "l2_cache_bytes": caches.get(2),
            "l3_cache_bytes": caches.get(3),
            "cache_source": "sysfs",
        }
    return {
        "l1d_cache_bytes": info.get("l1_data_cache_size"),
        "l2_cache_bytes": info.get("l2_cache_size"),
        "l3_cache_bytes": info.get("l3_cache_size"),
        "cache_source": "py-cpuinfo",
    }


def _usable_cpus() -> int | None:
    # The affinity mask (taskset, cgroup cpusets) can be smaller than the core count.
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            # Read-only: never take the index lock while someone else commits.
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _git_state(cwd: Path) -> dict | None:
    """{"commit", "dirty"} of the checkout containing cwd; None when it is not one.
    commit is None in a repository without commits."""
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top is None:
        return None
    commit = _git(["rev-parse", "--verify", "-q", "HEAD"], cwd)
    # Tracked changes only, and not under results/: writing results into the checkout must
    # not mark the next record dirty.
    status = _git(
        ["status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
        Path(top),
    )
    return {"commit": commit or None, "dirty": None if status is None else bool(status)}


def _git_record() -> dict | None:
    # Prefer the checkout holding this package (an editable install), else the CWD.
    for cwd in (Path(__file__).resolve().parent, Path.cwd()):
        state = _git_state(cwd)
        if state is not None:
            return state
    return None


def _kernels_info() -> dict:
    try:
        from sparsebench import kernels  # lazy: optional compiled part, may be missing

        info = kernels.info()
        # Round-trip so the record stays JSON-able whatever info() returns (tuples, enums...).
        return json.loads(json.dumps(info, default=str))
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _torch_record() -> dict:
    try:
        import torch
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        # The SIMD level torch's own kernels dispatched to (e.g. "AVX512"); torch >= 2.1.
        "cpu_capability": getattr(torch.backends.cpu, "get_cpu_capability", lambda: None)(),
    }


def machine_record(*, isa: str | None = None, threads: int | None = None) -> dict:
    """A JSON-able description of this machine and software stack, taken now."""
    import numpy

    info = _cpu_info()
    flags = set(info.get("flags", ()))
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "system": platform.system(),
        "arch": platform.machine(),
        "cpu": {
            "brand": info.get("brand_raw"),
            "vendor": info.get("vendor_id_raw"),
            "family": info.get("family"),
            "model": info.get("model"),
            "flags": {flag: flag in flags for flag in CPU_FLAGS},
            **_cache_record(info),
            **({"error": info["error"]} if "error" in info else {}),
        },
        "logical_cores": os.cpu_count(),
        "usable_cores": _usable_cpus(),
        "memory_total_bytes": _mem_total_bytes(),
        "python": platform.python_version(),
        "python_compiler": platform.python_compiler(),
        "numpy": numpy.__version__,
        "torch": _torch_record(),
        "kernels": _kernels_info(),
        "isa": isa,
        "threads": threads,
        "git": _git_record(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm|c)\)", "", text.lower())
    return re.sub(r"[^a-z0-9_]+", "-", text).strip("-_")


def machine_id(record: dict) -> str:
    """Short file-name-safe id from hostname-free facts: cpu brand, arch, logical cores.
    Two VMs of one kind share it, which is the point: their results belong together."""
    cpu = record.get("cpu") or {}
    brand = _slug(str(cpu.get("brand") or "unknown-cpu"))[:40].strip("-") or "unknown-cpu"
    arch = _slug(str(record.get("arch") or "unknown-arch")) or "unknown-arch"
    cores = record.get("logical_cores")
    return f"{brand}-{arch}-{cores if cores else 'n'}c"
