"""Benchmark cases of TernGrad that the harness times in one process (`sparsebench run --suite
terngrad`): encode (scaler pass + fused ternarize + pack) and decode (unpack x scale) of one
catalogue layer's weight gradient, each beside a torch copy of the same fp32 bytes into a resident buffer
(``Tensor.copy_``: the machine's resident-copy bandwidth, the yardstick: ``ratio_to_reference`` =
time / copy time; a clone would also pay fresh pages) and the readable reference.
``gbytes_per_s`` counts the fp32 gradient bytes processed (for the copy: the bytes copied). Every row also carries the bytes a rank sends for that gradient, fp32 vs ternary
(packed codes + one float scaler), exactly as comm.exchange sends them.

The exchange across ranks and the data-parallel step are measured in several processes:
bench_dist.py (exchange) and train_ddp.py (whole steps, accuracy).
"""

from __future__ import annotations

from typing import Iterator

import torch

from ...cases import OURS, BenchCase, StageBench, Unavailable
from ...catalogue import LAYERS, Profile
from ...measure import Conv2dShape
from . import kernels as tk
from . import reference as ref

SUITE = "terngrad"
SCHEMES = ("terngrad", "terngrad-clip")  # scaler max|g| / 2.5 std(g)
MODE = {"terngrad": "max", "terngrad-clip": "std"}
STAGES = ("encode", "decode")
TORCH_REFERENCE = "torch-reference"
TORCH_COPY = "torch-copy"
RATE = 0.0  # no rate applies: the sparsity field is 0


def grad_numel(layer: str) -> int:
    """Values of the layer's weight gradient (what data-parallel workers exchange for it)."""
    shape = LAYERS[layer].shape
    if isinstance(shape, Conv2dShape):
        return shape.cout * shape.cin * shape.kh * shape.kw
    return shape.in_features * shape.out_features


def wire_bytes(n: int) -> dict:
    """Bytes one rank sends for an n-value gradient: fp32 vs ternary (codes + one float scaler)."""
    tern = (n + 3) // 4 + 4
    return {"fp32_bytes": 4 * n, "ternary_bytes": tern, "bytes_ratio_fp32": 4 * n / tern}


def accepts(case: BenchCase) -> bool:
    if case.layer not in LAYERS or case.scheme not in SCHEMES or case.stage not in STAGES:
        return False
    return case.stage == "encode" or case.scheme == SCHEMES[0]  # decode does not depend on the scaler


def cases(prof: Profile) -> Iterator[BenchCase]:
    for layer in prof.layers:
        for scheme in SCHEMES:
            for stage in STAGES:
                for t in prof.threads:
                    case = BenchCase(SUITE, layer, scheme, stage, RATE, t)
                    if accepts(case):
                        yield case


def impl_names(case: BenchCase) -> tuple[str, ...]:
    return (OURS, TORCH_REFERENCE, TORCH_COPY)


def _gradient(n: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(3)) * 1e-3


def build(case: BenchCase) -> StageBench:
    if not accepts(case):
        raise Unavailable(f"terngrad has no case {case.scheme}/{case.stage} on {case.layer}")
    n, t, seed = grad_numel(case.layer), case.threads, 4321
    g = _gradient(n)
    mode = MODE[case.scheme]
    s = tk.scaler(g, mode)
    packed = tk.ternarize_pack(g, s, seed)
    out = torch.empty_like(g)
    copy = torch.empty_like(g)  # resident: allocated and touched once, outside timing
    copy.copy_(g)
    nb = packed.numel()
    if case.stage == "encode":
        impls = {OURS: lambda: tk.encode(g, seed, mode, threads=t),
                 TORCH_REFERENCE: lambda: ref.ternarize_pack(g, ref.scaler(g, mode), seed),
                 TORCH_COPY: lambda: copy.copy_(g)}
        moved = {OURS: 2 * 4 * n + nb, TORCH_REFERENCE: None, TORCH_COPY: 8 * n}
    else:
        impls = {OURS: lambda: tk.decode(packed, n, s, out=out, threads=t),
                 TORCH_REFERENCE: lambda: ref.decode(packed, n, s),
                 TORCH_COPY: lambda: copy.copy_(g)}
        moved = {OURS: nb + 4 * n, TORCH_REFERENCE: None, TORCH_COPY: 8 * n}
    fired = int((ref.unpack(packed, n) != 0).sum())
    return StageBench(
        impls=impls, dense_flops=0, effective_flops=0,
        tensor_bytes={OURS: 4 * n + nb, TORCH_REFERENCE: 4 * n + nb, TORCH_COPY: 8 * n},
        info={**wire_bytes(n), "grad_numel": n, "scaler_mode": mode, "scaler": s,
              "nonzero_fraction": fired / max(n, 1), "memory_traffic_bytes_ours": moved[OURS],
              "yardstick_doc": "torch copy_ of the same fp32 gradient into a resident buffer (resident-copy bandwidth)"},
        bytes_moved=4 * n,
        ratio_to=TORCH_COPY,
    )
