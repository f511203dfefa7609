"""Peer baselines: other projects' sparse-training kernels measured beside ours.

Only SparseProp (IST-DASLab, PyPI ``sparseprop==0.1.14``) for now. It is an optional extra: it
builds from source against the torch already installed, which a pip extra cannot express
(``--no-build-isolation`` plus a constraints file pinning torch), so ``sparsebench peers install``
does it; ``pip install ".[peers]"`` only brings its build dependencies.

Peers run in a child process (``peers.child``): a crash, a hang or a failed import there is
recorded as that case's result and never stops a run. Ratios for a peer come only from its own
child process, where it is timed interleaved with torch-dense.
"""

from .sparseprop import (
    PEER,
    PEER_STAGES,
    PIN,
    applies,
    install,
    status,
)

__all__ = ["PEER", "PEER_STAGES", "PIN", "applies", "install", "status"]
