"""The multi-process runner: one function run on every rank of a torch.distributed group (gloo
on CPU), each rank a child process, results gathered by the parent. What a method that needs
several processes measures on (TernGrad's gradient exchange, data-parallel training).

    results = run_ranks("mypkg.bench:exchange", world_size=2, kwargs={"numel": 1 << 20})

``fn(rank, world_size, **kwargs)`` runs after ``init_process_group`` and returns something JSON
can carry. A rank that dies, raises or hangs makes the whole run fail within ``timeout_s`` with a
RankFailure naming the rank and how (every rank is then killed): never a hang. Ranks talk over
``addr`` only (loopback by default); gloo has no authentication, so ranks belong on a trusted
network. Under torchrun (several machines), ``init_from_env`` joins the group torchrun set up.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
DEFAULT_TIMEOUT_S = 120.0
_RESULT = "SPARSEBENCH_RANK_RESULT "  # prefix of the one protocol line a rank prints


@dataclass
class RankFailure(Exception):
    """A rank did not return a result: ``how`` is "exit", "signal", "error" or "timeout"."""

    rank: int
    how: str
    message: str

    def __str__(self) -> str:
        return f"rank {self.rank} {self.how}: {self.message}"


def free_port(addr: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def _resolve(fn: str):
    module, _, name = fn.partition(":")
    if not module or not name:
        raise ValueError(f"fn must be 'module:function', got {fn!r}")
    return getattr(importlib.import_module(module), name)


def run_ranks(fn: str, world_size: int, *, kwargs: dict | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
              addr: str = LOOPBACK, threads: int = 1) -> list[Any]:
    """Run ``fn`` on ``world_size`` ranks over gloo at ``addr``; the ranks' return values, in rank
    order. ``threads``: torch intra-op threads per rank (ranks on one machine share its cores)."""
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive int, got {world_size!r}")
    if not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    _resolve(fn)  # a bad name fails here, in the parent, with its own error
    port = free_port(addr)
    payload = json.dumps(kwargs or {})
    env = dict(os.environ)
    pkg_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
    env["OMP_NUM_THREADS"] = str(threads)
    procs, logs = [], []
    try:
        for rank in range(world_size):
            log = tempfile.TemporaryFile()
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "sparsebench.runners.distributed", fn, str(rank), str(world_size), addr,
                 str(port), str(timeout_s), str(threads)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True))
        for p in procs:
            p.stdin.write(payload.encode())
            p.stdin.close()
        return _gather(procs, logs, timeout_s)
    finally:
        for p in procs:
            _kill(p)
        for log in logs:
            log.close()


def _kill(p: subprocess.Popen) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()


def _tail(log, n: int = 800) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-n:].strip()


# After the first failure, how long the other ranks get to report theirs: a rank that raises makes
# its peers' collectives fail too, and the run must name the cause, not whichever report came first.
_GRACE_S = 5.0


def _root_cause(failures: list[tuple[RankFailure, float]]) -> RankFailure:
    """The failure that caused the others: a rank that died (its peers then see a closed
    connection), else the error raised first (the ranks share one clock on one machine)."""
    died = [f for f, _ in failures if f.how in ("exit", "signal")]
    if died:
        return min(died, key=lambda f: f.rank)
    return min(failures, key=lambda fw: (fw[1], fw[0].rank))[0]


def _gather(procs, logs, timeout_s: float) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    out: dict[int, bytes] = {r: b"" for r in range(len(procs))}
    results: dict[int, Any] = {}
    failures: list[tuple[RankFailure, float]] = []
    sel = selectors.DefaultSelector()
    for r, p in enumerate(procs):
        sel.register(p.stdout, selectors.EVENT_READ, r)
    try:
        while len(results) + len(failures) < len(procs):
            left = deadline - time.monotonic()
            if left <= 0:
                if failures:
                    break
                waiting = sorted(set(range(len(procs))) - set(results))
                raise RankFailure(waiting[0], "timeout", f"no result within {timeout_s:.0f} s (ranks waiting: "
                                                         f"{waiting}); stderr: {_tail(logs[waiting[0]])}")
            for key, _ in sel.select(min(left, 0.5)):
                r = key.data
                chunk = os.read(key.fileobj.fileno(), 65536)
                if chunk:
                    out[r] += chunk
                    continue
                sel.unregister(key.fileobj)
                rc = procs[r].wait()
                line = next((ln for ln in out[r].decode(errors="replace").splitlines() if ln.startswith(_RESULT)), None)
                if line is None:
                    how = "signal" if rc < 0 else "exit"
                    what = signal.Signals(-rc).name if rc < 0 else f"code {rc}"
                    failure = RankFailure(r, how, f"ended ({what}) without a result; stderr: {_tail(logs[r])}")
                    failures.append((failure, time.time()))
                    continue
                reply = json.loads(line[len(_RESULT):])
                if not reply.get("ok"):
                    failures.append((RankFailure(r, "error", reply.get("error", "?")), reply.get("at", time.time())))
                    continue
                results[r] = reply["result"]
            if failures:  # from the first failure on, the others get _GRACE_S to report
                deadline = min(deadline, time.monotonic() + _GRACE_S)
    finally:
        sel.close()
    if failures:
        raise _root_cause(failures)
    return [results[r] for r in range(len(procs))]


def init_from_env(backend: str = "gloo", timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[int, int]:
    """Join the group torchrun (or run_ranks) described in the environment: (rank, world size)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return dist.get_rank(), dist.get_world_size()


def _rank_main(argv: list[str]) -> int:
    fn, rank, world, addr, port, timeout_s, threads = argv
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # libraries' prints go to stderr, never into the protocol line
    sys.stdout = sys.stderr
    kwargs = json.loads(sys.stdin.read() or "{}")
    import torch
    import torch.distributed as dist

    torch.set_num_threads(int(threads))

    def failed(exc: Exception) -> dict:
        # when it failed, taken before the group is torn down (which makes the peers fail too), so
        # the parent can tell the cause from its consequences
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "at": time.time()}

    try:
        dist.init_process_group("gloo", init_method=f"tcp://{addr}:{port}", rank=int(rank), world_size=int(world),
                                timeout=datetime.timedelta(seconds=float(timeout_s)))
    except Exception as exc:  # noqa: BLE001 - the parent reports it as this rank's failure
        reply = failed(exc)
    else:
        try:
            reply = {"ok": True, "result": _resolve(fn)(int(rank), int(world), **kwargs)}
        except Exception as exc:  # noqa: BLE001 - as above
            reply = failed(exc)
        try:
            dist.destroy_process_group()
        except Exception as exc:  # noqa: BLE001 - as above
            if reply["ok"]:
                reply = failed(exc)
    proto.write(_RESULT + json.dumps(reply) + "\n")
    proto.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_rank_main(sys.argv[1:]))
