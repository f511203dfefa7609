"""The child-process runner: an implementation measured in a child process, so a crash, hang or
import failure there is a result.

The parent (``ChildRunner``) keeps one child per thread count (a peer's OpenMP runtime reads
OMP_NUM_THREADS once, at load). Each child starts with a raised stack limit (RLIMIT_STACK and
OMP_STACKSIZE), imports the peer, says hello, then measures one case per request: the peer and
torch-dense of the same stage, interleaved in its own process, so the peer's speedup is a ratio
taken in one process, as every other ratio in sparsebench.

Protocol: one JSON object per line. The child writes to a private copy of its stdout and sends
its own fd 1 to stderr, so prints from libraries cannot corrupt the protocol.
  child -> {"hello": true, "ok": true, "version": ...} | {"hello": true, "ok": false, "status", "error"}
  parent -> {"case": {...BenchCase fields}, "rounds": n, "max_case_s": s}
  child -> {"ok": true, "metrics": {...}} | {"ok": false, "status": "unavailable" | "error", "error": ...}
A child that dies (signal or exit) or does not answer within the time limit is recorded as a
"peer-error" for the case it was measuring and replaced by a fresh child for the next one.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lines import NoLine, read_line

STACK_BYTES = 64 * 1024 * 1024  # default stack for a peer's threads (SparseProp needs more than 8 MiB)

DEFAULT_TIMEOUT_S = 240.0
START_TIMEOUT_S = 120.0


@dataclass
class ChildFailure(Exception):
    """The child could not produce a result for a case; ``status`` says how."""

    status: str  # not-installed | import-error | unavailable | error | crash | timeout | protocol
    message: str
    signal: str | None = None
    returncode: int | None = None

    def __str__(self) -> str:
        return self.message

    def to_metrics(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.message, "signal": self.signal, "returncode": self.returncode}


def _signal_name(rc: int) -> str | None:
    if rc is not None and rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:
            return f"signal {-rc}"
    return None


class ChildProcess:
    """One child process measuring one implementation (a peer module) at a fixed thread count."""

    def __init__(self, impl_module: str, threads: int, *, stack_bytes: int = STACK_BYTES,
                 start_timeout_s: float = START_TIMEOUT_S):
        self.impl_module = impl_module
        self.name = impl_module.rsplit(".", 1)[-1]
        self.threads = threads
        self.stack_bytes = stack_bytes
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        pkg_root = str(Path(__file__).resolve().parents[2])  # the directory holding sparsebench/
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
        env["OMP_NUM_THREADS"] = str(threads)
        env["OMP_STACKSIZE"] = f"{stack_bytes // (1024 * 1024)}M"
        env["SPARSEBENCH_PEER_THREADS"] = str(threads)
        env["SPARSEBENCH_PEER_STACK_BYTES"] = str(stack_bytes)

        soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
        want = stack_bytes if hard == resource.RLIM_INFINITY else min(stack_bytes, hard)
        limits = (max(soft, want) if soft != resource.RLIM_INFINITY else soft, hard)

        def raise_stack():  # runs in the child between fork and exec: the main thread's stack limit
            resource.setrlimit(resource.RLIMIT_STACK, limits)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sparsebench.runners.child", impl_module],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
            preexec_fn=raise_stack, start_new_session=True,
        )
        self._buf = b""
        self.hello = self._read(start_timeout_s, "starting")

    def stderr_tail(self, n: int = 600) -> str:
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return text[-n:].strip()

    def _dead(self, what: str) -> ChildFailure:
        rc = self.proc.wait()
        sig = _signal_name(rc)
        how = f"killed by {sig}" if sig else f"exited with code {rc}"
        tail = self.stderr_tail()
        return ChildFailure("crash", f"{self.name} child {how} while {what}" + (f"; stderr: {tail}" if tail else ""),
                           signal=sig, returncode=rc)

    def _read(self, timeout_s: float, what: str) -> dict:
        try:
            line, self._buf = read_line(self.proc.stdout, self._buf, timeout_s)
        except NoLine as exc:
            if exc.reason == "eof":
                raise self._dead(what) from None
            self.kill()
            raise ChildFailure("timeout", f"{self.name} child gave no answer within {timeout_s:.0f} s while {what}") \
                from None
        try:
            return json.loads(line)
        except json.JSONDecodeError as exc:
            self.kill()
            raise ChildFailure("protocol", f"{self.name} child sent a malformed line ({exc}): {line[:200]!r}") from exc

    def request(self, msg: dict, timeout_s: float, what: str) -> dict:
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._dead(what) from None
        return self._read(timeout_s, what)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the child and its threads only
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


class ChildRunner:
    """Measures one implementation's cases in child processes (one per thread count: an OpenMP
    runtime reads its thread count once); ``measure`` returns metrics or raises ChildFailure.
    ``impl_module`` names a module with the peer interface (see sparsebench.peers)."""

    def __init__(self, impl_module: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, stack_bytes: int = STACK_BYTES):
        self.impl_module = impl_module
        self.timeout_s = timeout_s
        self.stack_bytes = stack_bytes
        self._procs: dict[int, ChildProcess] = {}
        self._unusable: ChildFailure | None = None  # not installed / import failed: same answer for all cases

    def _proc(self, threads: int) -> ChildProcess:
        if self._unusable is not None:
            raise self._unusable
        p = self._procs.get(threads)
        if p is not None and p.alive():
            return p
        if p is not None:
            p.close()
        p = ChildProcess(self.impl_module, threads, stack_bytes=self.stack_bytes)  # ChildFailure propagates (start crash/hang)
        if not p.hello.get("ok"):
            p.close()
            self._unusable = ChildFailure(p.hello.get("status", "import-error"), p.hello.get("error", "?"))
            raise self._unusable
        self._procs[threads] = p
        return p

    def measure(self, case, *, rounds: int = 7, max_case_s: float = 20.0) -> dict[str, Any]:
        p = self._proc(case.threads)
        try:
            reply = p.request({"case": case.to_dict(), "rounds": rounds, "max_case_s": max_case_s}, self.timeout_s,
                              f"measuring {case.id}")
        except ChildFailure:
            p.close()
            self._procs.pop(case.threads, None)
            raise
        if not reply.get("ok"):
            raise ChildFailure(reply.get("status", "error"), reply.get("error", "?"))
        return reply["metrics"]

    def close(self) -> None:
        for p in self._procs.values():
            p.close()
        self._procs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- the child ----------------------------------------------------------------------------------

# For tests only: "segv" (die by SIGSEGV on the first request), "hang" (never answer),
# "not-installed", "import-error" (the hello says so), "start-crash" (die before the hello).
FAULT_ENV = "SPARSEBENCH_PEER_FAULT"


def _fault_child(fault: str, send) -> int:
    if fault == "start-crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault in ("not-installed", "import-error"):
        send({"hello": True, "ok": False, "status": fault, "error": f"injected {fault}"})
        return 0
    send({"hello": True, "ok": True, "version": "fault-injection"})
    for _ in sys.stdin:
        if fault == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(3600)
    return 0



def _child_main(impl_module: str) -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by libraries goes to stderr
    sys.stdout = sys.stderr

    def send(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    import importlib

    fault = os.environ.get(FAULT_ENV)
    if fault:  # tests: make the failures the parent must survive happen on demand
        return _fault_child(fault, send)
    impl = importlib.import_module(impl_module)
    threads = int(os.environ.get("SPARSEBENCH_PEER_THREADS", "1"))
    impl.prepare_process(threads, int(os.environ.get("SPARSEBENCH_PEER_STACK_BYTES", STACK_BYTES)))
    st = impl.status()
    if not st["installed"]:
        send({"hello": True, "ok": False, "status": "not-installed", "error": st["reason"]})
        return 0
    try:
        impl.load()
    except impl.PeerUnavailable as exc:
        send({"hello": True, "ok": False, "status": "import-error", "error": str(exc)})
        return 0
    import torch

    from ..baselines import TORCH_DENSE
    from ..cases import BenchCase, Unavailable
    from .inprocess import measure_bench

    torch.set_num_threads(threads)
    send({"hello": True, "ok": True, "version": st["version"], "pid": os.getpid(), "threads": threads})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            case = BenchCase(**req["case"])
            if case.threads != threads:
                raise ValueError(f"child runs {threads} threads, case asks for {case.threads}")
            bench = impl.build(case)
            measured = measure_bench(bench, threads, rounds=int(req.get("rounds", 7)),
                                     max_case_s=float(req.get("max_case_s", 20.0)))
            metrics = dict(measured[impl.PEER])
            dense = measured[TORCH_DENSE]
            metrics.update({
                "torch_dense_median_s": dense["median_s"],
                "torch_dense_iqr_s": dense["iqr_s"],
                "ratio_source": f"peer child process ({impl.PEER} and torch-dense interleaved)",
                "peer_version": st["version"],
                "omp_stacksize": os.environ.get("OMP_STACKSIZE"),
            })
            send({"ok": True, "metrics": metrics})
        except Unavailable as exc:
            send({"ok": False, "status": "unavailable", "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - reported to the parent as this case's result
            send({"ok": False, "status": "error", "error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
