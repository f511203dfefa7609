"""SparseProp (Nikdan et al., ICML 2023; github.com/IST-DASLab/sparseprop) as a peer baseline.

What it offers (0.1.14): ``SparseLinear.from_dense(linear)`` and ``SparseConv2d.from_dense(conv)``
(square kernels, stride 1 or 2, no groups); the mask is fixed at construction and derived from
the dense weight's nonzeros; backward is one fused kernel (dX and dW together), so it is compared
on the "forward", "backward" (= backward_data + weight_grad) and "step" (forward + backward of the
layer) stages. Its extension is a top-level module named ``backend`` built with -march=native
and its own ``-lgomp``: the thread count is read from OMP_NUM_THREADS when that runtime loads, so
a process runs it at one thread count only (``prepare_process`` before the first import).

Its conv backward keeps per-thread copies of dW on the stack (an OpenMP array reduction) and
segfaults with the default 8 MiB stack beyond ~2M nonzeros: ``prepare_process`` raises
RLIMIT_STACK and OMP_STACKSIZE (64 MiB by default) and the harness runs it in a child process.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

PEER = "sparseprop"
PIN = "sparseprop==0.1.14"
# sparseprop's setup.py imports setuptools and pybind11 and its runtime needs scipy; with
# --no-build-isolation they must be in the environment before it builds.
BUILD_DEPS = ("setuptools>=59", "wheel", "pybind11>=2.12", "scipy")
PEER_STAGES = ("forward", "backward", "step")
FORMAT = "unstructured"  # the weight format it implements (CSR-like, unstructured masks)
STACK_BYTES = 64 * 1024 * 1024
# Its conv kernels with vectorizing_over_on=False (from_dense's default) vectorize over the batch
# in 8-float vectors and silently skip the remainder: outputs for the last batch % 8 samples are
# wrong (tests/test_peers_sparseprop.py::test_conv_batch_remainder_is_wrong). The catalogue's
# batch is 32; any other batch must be a multiple of 8 to be compared.
CONV_BATCH_MULTIPLE = 8
INSTALL_HINT = 'pip install ".[peers]" && sparsebench peers install'


class PeerUnavailable(Exception):
    """SparseProp cannot run here (not installed, import failure, shape it does not support)."""


# --- installation --------------------------------------------------------------------------------


def status() -> dict[str, Any]:
    """Cheap, import-free check: {"installed": bool, "version": str | None, "reason": str}."""
    try:
        version = importlib.metadata.version("sparseprop")
    except importlib.metadata.PackageNotFoundError:
        version = None
    found = importlib.util.find_spec("sparseprop") is not None and importlib.util.find_spec("backend") is not None
    if version and found:
        return {"installed": True, "version": version, "reason": f"sparseprop {version} installed"}
    return {"installed": False, "version": version,
            "reason": f"sparseprop not installed (install: {INSTALL_HINT})"}


def _torch_pins() -> list[str]:
    """Constraint lines pinning what is installed now, so nothing can replace torch (or numpy)."""
    pins = []
    for dist in ("torch", "numpy"):
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            if dist == "torch":
                raise RuntimeError("torch is not installed: install sparsebench (torch==2.13.0) first") from None
    return pins


def install_command(constraints: Path, *, deps: bool = True) -> list[list[str]]:
    """The pip commands `install` runs (build deps first, then SparseProp without build isolation)."""
    pip = [sys.executable, "-m", "pip", "install", "-c", str(constraints)]
    cmds = [pip + list(BUILD_DEPS)] if deps else []
    cmds.append(pip + ["--no-build-isolation", "--no-cache-dir", PIN])
    return cmds


def install(*, dry_run: bool = False, deps: bool = True) -> int:
    """Build and install SparseProp against the torch already installed; returns pip's exit code.

    torch (and numpy) are pinned to the installed versions in a constraints file, so pip fails
    rather than pulling another torch. sparseprop's setup.py calls ``pip`` and ``python3`` from
    PATH, so this interpreter's bin directory goes first on PATH.
    """
    pins = _torch_pins()
    with tempfile.TemporaryDirectory(prefix="sparsebench-peers-") as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
        print(f"constraints: {', '.join(pins)}", flush=True)
        for cmd in install_command(constraints, deps=deps):
            print("+ " + " ".join(cmd), flush=True)
            if dry_run:
                continue
            rc = subprocess.call(cmd, env=env)
            if rc:
                print(f"failed (exit {rc}): {' '.join(cmd)}", file=sys.stderr)
                return rc
    if dry_run:
        return 0
    # check it imports against this torch, in a fresh process (the extension links libgomp)
    rc = subprocess.call([sys.executable, "-c", "import torch, backend, sparseprop.modules; "
                          "print('sparseprop imports against torch', torch.__version__)"])
    return rc


# --- running ---------------------------------------------------------------------------------------


def prepare_process(threads: int, stack_bytes: int = STACK_BYTES) -> None:
    """Make this process fit to run SparseProp: thread count for its OpenMP runtime and a stack
    big enough for its conv backward. Call before the first ``import sparseprop``."""
    os.environ["OMP_NUM_THREADS"] = str(int(threads))
    os.environ["OMP_STACKSIZE"] = f"{stack_bytes // (1024 * 1024)}M"
    raise_stack_limit(stack_bytes)


def raise_stack_limit(stack_bytes: int = STACK_BYTES) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    want = stack_bytes if hard == resource.RLIM_INFINITY else min(stack_bytes, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_STACK, (want, hard))


def load():
    """(SparseConv2d, SparseLinear, SparseConvFunction, SparseLinearFunction) or PeerUnavailable."""
    st = status()
    if not st["installed"]:
        raise PeerUnavailable(st["reason"])
    try:
        from sparseprop.modules import SparseConv2d, SparseLinear
        from sparseprop.modules.functions import SparseConvFunction, SparseLinearFunction
    except Exception as exc:  # a build against another torch fails here (undefined symbols)
        raise PeerUnavailable(f"sparseprop import failed: {type(exc).__name__}: {exc}") from exc
    return SparseConv2d, SparseLinear, SparseConvFunction, SparseLinearFunction


def supports(shape) -> str | None:
    """None when SparseProp can run this layer shape, else why not."""
    from ..measure import Conv2dShape

    if isinstance(shape, Conv2dShape):
        if shape.kh != shape.kw:
            return "SparseProp supports square kernels only"
        if shape.stride not in (1, 2):
            return "SparseProp supports stride 1 and 2 only"
        if shape.n % CONV_BATCH_MULTIPLE:
            return (f"SparseProp's conv (vectorized over the batch) leaves the last batch % {CONV_BATCH_MULTIPLE} "
                    f"samples wrong; batch {shape.n} is not a multiple of {CONV_BATCH_MULTIPLE}")
    return None


def applies(case) -> bool:
    """Is SparseProp a peer for this catalogue case? (static-mask training on unstructured weights,
    a stage it has: the one method it implements)."""
    from ..catalogue import has_layer, layer
    from ..methods.static_mask import bench

    return (case.suite == bench.SUITE and case.scheme == FORMAT and case.stage in PEER_STAGES
            and has_layer(case.layer) and supports(layer(case.layer).shape) is None)


def build(case):
    """SparseProp's callable beside torch-dense for one case, on the same mask as ours: what its
    child process times interleaved (raises cases.Unavailable if it cannot run the case)."""
    from ..baselines import TORCH_DENSE, torch_dense
    from ..cases import StageBench, Unavailable
    from ..measure import dense_flops, effective_flops, tensor_bytes
    from ..methods.static_mask import bench

    if not applies(case):
        raise Unavailable(f"{PEER} has no {case.suite}/{case.scheme}/{case.stage} stage "
                          f"({FORMAT} weights, stages {', '.join(PEER_STAGES)})")
    _, shape, x, w, dy, mask, reached, wm = bench.masked_problem(case)
    try:
        peer_impls, info = stage_callables(shape, x, wm, dy)
    except PeerUnavailable as exc:
        raise Unavailable(str(exc)) from exc
    dense_mask = mask.dense()
    acts = bench.stage_acts(case.stage, x, dy)
    return StageBench(
        impls={PEER: peer_impls[case.stage], TORCH_DENSE: torch_dense(shape, x, wm, dy)[case.stage]},
        dense_flops=dense_flops(shape, case.stage, sampled=True),
        effective_flops=effective_flops(shape, case.stage, weight_density=1.0 - reached, sampled=True),
        tensor_bytes={PEER: info["sparseprop_bytes"] + tensor_bytes(*acts), TORCH_DENSE: tensor_bytes(wm, *acts)},
        info={"sparsity_reached": reached, "nnz": int(dense_mask.sum()), "mask_digest": bench.mask_digest(dense_mask),
              **info},
    )


class _Ctx:
    """What torch.autograd.Function hands forward/backward, enough for SparseProp's functions:
    calling its backward directly times the fused kernel exactly as autograd runs it."""

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


def stage_callables(shape, x, wm, dy) -> tuple[dict[str, Callable[[], Any]], dict[str, Any]]:
    """SparseProp's forward / backward / step callables for the masked dense weight wm, built with
    from_dense (mask = nonzeros of wm), and facts to record (nnz, variant)."""
    import torch

    from ..measure import Conv2dShape

    why = supports(shape)
    if why:
        raise PeerUnavailable(why)
    SparseConv2d, SparseLinear, ConvFn, LinearFn = load()
    if isinstance(shape, Conv2dShape):
        dense = torch.nn.Conv2d(shape.cin, shape.cout, shape.kh, stride=shape.stride, padding=shape.padding,
                                bias=False)
        with torch.no_grad():
            dense.weight.copy_(wm)
        mod = SparseConv2d.from_dense(dense)  # vectorizing_over_on=False: its from_dense default
        args = (mod.W_val, mod.W_idx, None, mod.OC, mod.K, mod.padding, mod.stride, mod.vectorizing_fwd_over_on,
                mod.vectorizing_bwd_over_on)
        fn = ConvFn
        variant = f"SparseConv2d.from_dense(vectorizing_over_on={mod.vectorizing_over_on})"
    else:
        dense = torch.nn.Linear(shape.in_features, shape.out_features, bias=False)
        with torch.no_grad():
            dense.weight.copy_(wm)
        mod = SparseLinear.from_dense(dense)
        args = (mod.W_val, mod.W_idx, None, mod.N)
        fn = LinearFn
        variant = "SparseLinear.from_dense"
    ctx = _Ctx()
    with torch.no_grad():
        fn.forward(ctx, x, *args)  # saves what backward needs (SparseProp's own layout of x)

    def forward():
        with torch.no_grad():
            return mod(x)

    def backward():
        with torch.no_grad():
            return fn.backward(ctx, dy)

    xg = x.detach().clone().requires_grad_(True)

    def step():
        xg.grad = None
        mod.W_val.grad = None
        mod(xg).backward(dy)
        return xg.grad

    idx = mod.W_idx if isinstance(mod.W_idx, (tuple, list)) else (mod.W_idx,)
    nbytes = mod.W_val.numel() * 4 + sum(t.numel() * t.element_size() for t in idx)
    info = {"peer_nnz": int(mod.W_val.numel()), "nnz_sparseprop": int(mod.W_val.numel()), "sparseprop_variant": variant, "sparseprop_bytes": int(nbytes)}
    return {"forward": forward, "backward": backward, "step": step}, info
