"""Peer baselines: other projects' sparse-training kernels measured beside ours.

A peer is an implementation that runs on a runner (sparsebench.runners.child: a crash, a hang or
a failed import there is recorded as that case's result and never stops a run), not code inside
the harness. A peer module here provides::

    PEER                      its implementation name in records
    applies(case) -> bool     whether it has this benchmark case (the method and format it implements)
    build(case) -> StageBench its callables beside torch-dense, in its child process
    status() -> dict          {"installed", "version", "reason"}, without importing it
    load()                    import it (raises PeerUnavailable)
    prepare_process(threads, stack_bytes)   before the first import, in the child
    PeerUnavailable           the exception load() raises

Ratios for a peer come only from its own child process, where it is timed interleaved with
torch-dense. Only SparseProp (IST-DASLab, PyPI ``sparseprop==0.1.14``) for now: an optional
extra that builds from source against the torch already installed, which a pip extra cannot
express (``--no-build-isolation`` plus a constraints file pinning torch), so ``sparsebench peers
install`` does it; ``pip install ".[peers]"`` only brings its build dependencies.
"""

from __future__ import annotations

from types import ModuleType

from ..discovery import declaring

_PEERS: dict[str, ModuleType] = {}


def all_peers() -> dict[str, ModuleType]:
    """name -> peer module, found by walking this package."""
    if not _PEERS:
        for mod in declaring(__name__, __path__, "PEER", lambda v: isinstance(v, str), packages_only=False):
            _PEERS[mod.PEER] = mod
    return _PEERS


def peers_for(case) -> list[ModuleType]:
    return [p for p in all_peers().values() if p.applies(case)]


def applies(case) -> bool:
    """Does any peer have this case?"""
    return bool(peers_for(case))


__all__ = ["all_peers", "applies", "peers_for"]
