"""Memory of one stage, measured in a fresh process per case.

Measured after a timing loop, a stage's peak RSS says little: the allocator's cache and the
kernels' grow-only scratch are already resident, so most stages read 0. Here every case gets a
fresh process, forked from a zygote that has imported torch and sparsebench but never run a
kernel (no OpenMP pool yet, so forking is safe). The forked child:

0. the zygote has imported the modules by building (not running) one smoke case per method at
   1 thread, so a child skips the imports; no stage has run, so no scratch is resident;
1. sets glibc's mmap threshold to a fixed 64 KiB (``mallopt``), so every buffer of 64 KiB or more
   is its own mapping, returned to the OS when freed: one implementation's freed output is not
   reused by the next one's, and the peak RSS of a call sees the pages it really touches;
2. builds the case (inputs, weights, formats: the same problem as the timed one), then, per
   implementation, resets the peak RSS (``/proc/self/clear_refs``), runs the stage once and reads
   ``peak_delta_bytes`` = VmHWM - VmRSS before the call: the stage's first call in this process,
   with its inputs already allocated (scratch a kernel grows on first use counts for it);
3. runs each implementation once more under ``torch.profiler`` with ``profile_memory=True`` and
   reports ``alloc_bytes`` (every byte torch's allocator handed out during the stage) and
   ``alloc_peak_bytes`` (the most of them alive at once). The profiler sees tensors allocated
   through torch (ours allocate outputs as torch tensors or numpy arrays wrapped without copy:
   numpy buffers are not seen, the RSS figure is).

All implementations of a case share one child (one fork per case keeps `sparsebench run`
fast); the order is the case's impl order.

Protocol (one JSON object per line, as runners.child): zygote -> {"hello": true, "ok": true};
parent -> {"case": {...}}; zygote -> {"ok": true, "memory": {impl: metrics}} | {"ok": false,
"status": "unavailable" | "error" | "crash", "error": ...}.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .lines import NoLine, read_line

MMAP_THRESHOLD = 64 * 1024
METHOD = "fresh child, first call (clear_refs)"
DEFAULT_TIMEOUT_S = 300.0


class MemoryFailure(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def _fresh_malloc() -> None:
    """Fixed mmap threshold (no dynamic raise after frees) and trimming: large buffers are mapped
    per allocation and unmapped on free (glibc; a no-op elsewhere)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, MMAP_THRESHOLD)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def profiled_alloc(fn) -> dict[str, Any]:
    """Bytes allocated during one call of fn: through torch's allocator (torch.profiler,
    profile_memory: total handed out and peak alive) plus numpy's data buffers (numpy reports
    them to tracemalloc in its own domain: the peak alive), which is where the extension's
    outputs live before torch.from_numpy wraps them."""
    import tracemalloc

    import numpy as np
    from torch.profiler import ProfilerActivity, profile

    domain = getattr(np.lib, "tracemalloc_domain", 389047)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            result = fn()
        snap_peak = tracemalloc.get_traced_memory()[1] - before
        numpy_peak = max(0, snap_peak)
    finally:
        tracemalloc.stop()
    del result
    # the allocator's own events: +bytes on allocation, -bytes on free, in time order
    events = [(e.start_ns(), int(e.nbytes())) for e in prof.profiler.kineto_results.events()
              if e.name() == "[memory]"]
    events.sort()
    total = cur = peak = 0
    for _, n in events:
        if n > 0:
            total += n
        cur += n
        peak = max(peak, cur)
    return {"alloc_bytes": total + numpy_peak, "alloc_peak_bytes": peak + numpy_peak, "torch_alloc_bytes": total,
            "numpy_alloc_peak_bytes": numpy_peak,
            "alloc_method": "torch.profiler profile_memory + tracemalloc (numpy buffers, peak)"}


def measure_built(bench) -> dict[str, dict]:
    """impl -> memory metrics of a built case (StageBench), in this process: first calls, then
    the profiler pass. Meant for a fresh process (measure_case_here)."""
    from ..measure import measure_peak_delta

    out: dict[str, dict] = {}
    for name, fn in bench.impls.items():
        gc.collect()
        pd = measure_peak_delta(fn)
        out[name] = {"peak_delta_bytes": pd.peak_delta_bytes,
                     "memory_method": METHOD if pd.method == "clear_refs" else pd.method}
        del pd
    for name, fn in bench.impls.items():
        gc.collect()
        try:
            out[name].update(profiled_alloc(fn))
        except Exception as exc:  # noqa: BLE001 - the RSS figure stands on its own
            out[name]["alloc_error"] = f"{type(exc).__name__}: {exc}"
    return out


def measure_case_here(case_dict: dict) -> dict[str, dict]:
    """Build one case and measure its implementations' memory in this (fresh) process."""
    import torch

    from ..cases import BenchCase
    from ..methods import build

    _fresh_malloc()
    case = BenchCase(**case_dict)
    torch.set_num_threads(case.threads)
    bench = build(case)
    return measure_built(bench)


# --- the parent side ------------------------------------------------------------------------------


class MemoryRunner:
    """One zygote process; ``measure(case)`` forks a fresh child from it per case."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S, start_timeout_s: float = 180.0):
        self.timeout_s = timeout_s
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        pkg_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen([sys.executable, "-m", "sparsebench.runners.memory"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, env=env, start_new_session=True)
        self._buf = b""
        hello = self._read(start_timeout_s, "starting")
        if not hello.get("ok"):
            self.close()
            raise MemoryFailure("error", hello.get("error", "memory zygote failed to start"))

    def _read(self, timeout_s: float, what: str) -> dict:
        try:
            line, self._buf = read_line(self.proc.stdout, self._buf, timeout_s)
        except NoLine as exc:
            if exc.reason == "eof":
                raise MemoryFailure("crash", f"memory zygote exited (code {self.proc.wait()}) while {what}") from None
            self.kill()
            raise MemoryFailure("timeout", f"memory child gave no answer within {timeout_s:.0f} s while {what}") \
                from None
        return json.loads(line)

    def measure(self, case) -> dict[str, dict]:
        """impl -> memory metrics of one case; raises MemoryFailure."""
        if self.proc.poll() is not None:
            raise MemoryFailure("crash", "memory zygote is not running")
        try:
            self.proc.stdin.write((json.dumps({"case": case.to_dict()}) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise MemoryFailure("crash", f"memory zygote is gone: {exc}") from None
        reply = self._read(self.timeout_s, f"measuring {case.id}")
        if not reply.get("ok"):
            raise MemoryFailure(reply.get("status", "error"), reply.get("error", "?"))
        return reply["memory"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- the zygote -----------------------------------------------------------------------------------


def _run_forked(case_dict: dict) -> dict:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the fresh child: measure, write one JSON reply, exit without cleanup
        os.close(r)
        try:
            from ..cases import Unavailable

            try:
                reply = {"ok": True, "memory": measure_case_here(case_dict), "pid": os.getpid()}
            except Unavailable as exc:
                reply = {"ok": False, "status": "unavailable", "error": str(exc)}
            except Exception as exc:  # noqa: BLE001 - the parent records it
                reply = {"ok": False, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(reply).encode()
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        return {"ok": False, "status": "crash", "error": f"memory child died ({how})"}
    return json.loads(b"".join(chunks))


def _warm() -> None:
    """Import the modules a case needs once, at 1 thread (no OpenMP pool is started, so forking
    stays safe): build (not run) one smoke case per method, and start the profiler once on a
    trivial call. No stage runs here, so no kernel scratch or library cache of a stage is
    resident in a child before its first call (a stage's first call pays those, as in a fresh
    process); the children skip only the imports."""
    import torch

    from .. import catalogue, methods

    torch.set_num_threads(1)
    prof = catalogue.profile("smoke")
    for m in methods.all_methods().values():
        for case in m.cases(prof):
            try:
                m.build(case)
            except Exception:  # noqa: BLE001 - warming only
                continue
            break
    profiled_alloc(lambda: None)


def _zygote_main() -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    try:
        _warm()
    except Exception as exc:  # noqa: BLE001
        send({"hello": True, "ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 0
    send({"hello": True, "ok": True, "pid": os.getpid()})
    for line in sys.stdin:
        if line.strip():
            send(_run_forked(json.loads(line)["case"]))
    return 0


if __name__ == "__main__":
    sys.exit(_zygote_main())
