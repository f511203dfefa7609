"""TernGrad as a DistributedDataParallel communication hook (the
torch.distributed.algorithms.ddp_comm_hooks interface: ``hook(state, bucket) -> Future``):

    model = DistributedDataParallel(net)
    state = TernGradState.for_model(model, keep_float=[net.fc2])   # logits layer kept float
    model.register_comm_hook(state, terngrad_hook)

Per bucket and per parameter (a layer's weight or bias), every rank:
  1. computes its scaler s_p (kernels.scaler: max|g| or the clipping c * std);
  2. all_reduce MAX of the bucket's scalers (plus one non-finite flag): the shared S_p;
  3. ternarizes and packs its gradient with S_p (2 bits a value, counter-based RNG, a seed per
     rank, call and parameter);
  4. all_gathers the packed bytes of the bucket (one message);
  5. decodes: grad_p = (sum over ranks of the codes) * S_p / ranks, written into the bucket.
Parameters kept float travel in one fp32 all_reduce (SUM, then / ranks).

Policy: a non-float32 bucket raises TypeError; NaN / Inf in any rank's gradient makes every rank
raise FloatingPointError in the same step (the flag is part of the MAX all-reduce, so no rank is
left waiting); world size 1 is allowed and still ternarizes (a single worker's TernGrad). The
hook is synchronous (returns a completed Future), so its time is measured, not overlapped.

``state.stats`` counts, per rank, the bytes this rank hands to collectives (payload) and what an
fp32 all_reduce of the same buckets would hand over, plus ring-algorithm wire bytes (modelled:
all_reduce sends 2 (R - 1) / R of its payload, all_gather R - 1 times it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import torch
import torch.distributed as dist

from ... import _kernels
from . import kernels

_MASK64 = (1 << 64) - 1


def _mix(z: int) -> int:
    """splitmix64 finalizer on a Python int (seeds of independent streams)."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def segment_seed(seed: int, rank: int, call: int, index: int) -> int:
    """The RNG seed of parameter ``index`` of hook call ``call`` on ``rank``: independent streams."""
    return _mix(_mix(_mix(_mix(seed) ^ rank) ^ call) ^ index)


@dataclass
class ExchangeStats:
    calls: int = 0
    numel: int = 0  # gradient values exchanged
    payload_bytes: int = 0  # handed to collectives by this rank
    fp32_bytes: int = 0  # an fp32 all_reduce of the same buckets
    ring_wire_bytes: float = 0.0  # modelled: sent by this rank under ring algorithms
    ring_wire_bytes_fp32: float = 0.0
    encode_s: float = 0.0
    exchange_s: float = 0.0
    decode_s: float = 0.0

    def reset(self) -> None:
        for k, v in ExchangeStats().__dict__.items():
            setattr(self, k, v)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def ring_allreduce_bytes(nbytes: int, ranks: int) -> float:
    return 2.0 * (ranks - 1) / ranks * nbytes


def ring_allgather_bytes(nbytes: int, ranks: int) -> float:
    return float((ranks - 1) * nbytes)


@dataclass
class TernGradState:
    process_group: Any = None
    mode: str = "max"  # "max" (no clipping) or "std" (s = c * std, clips)
    c: float = 2.5
    seed: int = 0
    float_params: frozenset = frozenset()  # id() of parameters kept float (the logits layer)
    threads: int = 0
    stats: ExchangeStats = field(default_factory=ExchangeStats)
    calls: int = 0

    def __post_init__(self) -> None:
        kernels._check_mode(self.mode, self.c)
        kernels._check_seed(self.seed)

    @classmethod
    def for_model(cls, model: torch.nn.Module, keep_float: Iterable[torch.nn.Module] = (), **kw) -> "TernGradState":
        ids = frozenset(id(p) for m in keep_float for p in m.parameters())
        return cls(float_params=ids, **kw)


def _group(state) -> tuple[Any, int, int]:
    pg = state.process_group if state.process_group is not None else dist.group.WORLD
    return pg, dist.get_rank(pg), dist.get_world_size(pg)


def _all_gather(out: torch.Tensor, inp: torch.Tensor, pg) -> None:
    gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor  # renamed in newer torch
    try:
        gather(out, inp, group=pg)
    except (RuntimeError, NotImplementedError):  # a backend without it: the list form
        dist.all_gather(list(out.view(-1, inp.numel()).unbind(0)), inp, group=pg)


def exchange(grads: list[torch.Tensor], keep: list[bool], state: TernGradState) -> None:
    """TernGrad-average the flat float32 views ``grads`` in place across the group (``keep``:
    which ones travel as fp32). The body of the hook, usable without DDP."""
    pg, rank, R = _group(state)
    for g in grads:
        if g.dtype != torch.float32:
            raise TypeError(f"gradient bucket must be float32, got {g.dtype}")
    call = state.calls
    state.calls += 1
    st = state.stats
    t0 = time.perf_counter()
    tern = [i for i, k in enumerate(keep) if not k]
    flt = [i for i, k in enumerate(keep) if k]
    scal = torch.zeros(len(tern) + 1, dtype=torch.float32)
    bad = 0
    for j, i in enumerate(tern):
        s, nonfinite = _kernels.terngrad_scaler(grads[i], state.mode, float(state.c), threads=state.threads)
        scal[j] = s
        bad += nonfinite
    bad += sum(int((~torch.isfinite(grads[i])).sum()) for i in flt)
    scal[-1] = float(bad > 0)
    t1 = time.perf_counter()
    dist.all_reduce(scal, op=dist.ReduceOp.MAX, group=pg)
    t2 = time.perf_counter()
    if scal[-1] > 0:
        raise FloatingPointError("TernGrad: a gradient bucket holds NaN/Inf on at least one rank; every rank "
                                 "stops at this step (no value is encoded from a non-finite gradient)")
    sizes = [(grads[i].numel() + 3) // 4 for i in tern]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64) if sizes else np.zeros(1, np.int64)
    total = int(offsets[-1])
    packed = torch.empty(total, dtype=torch.uint8)
    for j, i in enumerate(tern):
        kernels.ternarize_pack(grads[i], float(scal[j]), segment_seed(state.seed, rank, call, i),
                               out=packed[offsets[j]:offsets[j + 1]], threads=state.threads)
    t3 = time.perf_counter()
    gathered = torch.empty(R * total, dtype=torch.uint8)
    if total:
        _all_gather(gathered, packed, pg)
    flat = torch.cat([grads[i] for i in flt]) if flt else None
    if flat is not None and flat.numel():
        dist.all_reduce(flat, group=pg)
    t4 = time.perf_counter()
    rows = gathered.view(R, total)
    inv = np.float32(R)
    for j, i in enumerate(tern):
        scale = float(np.float32(scal[j].item()) / inv)
        kernels.decode(rows, grads[i].numel(), scale, offset=int(offsets[j]), out=grads[i], threads=state.threads)
    if flat is not None:
        flat.div_(R)
        pos = 0
        for i in flt:
            n = grads[i].numel()
            grads[i].copy_(flat[pos:pos + n])
            pos += n
    t5 = time.perf_counter()
    n_all = sum(g.numel() for g in grads)
    n_flt = sum(grads[i].numel() for i in flt)
    scal_b, flt_b = 4 * scal.numel(), 4 * n_flt
    st.calls += 1
    st.numel += n_all
    st.payload_bytes += scal_b + total + flt_b
    st.fp32_bytes += 4 * n_all
    st.ring_wire_bytes += ring_allreduce_bytes(scal_b, R) + ring_allgather_bytes(total, R) + \
        ring_allreduce_bytes(flt_b, R)
    st.ring_wire_bytes_fp32 += ring_allreduce_bytes(4 * n_all, R)
    st.encode_s += (t1 - t0) + (t3 - t2)
    st.exchange_s += (t2 - t1) + (t4 - t3)
    st.decode_s += t5 - t4


def _bucket_views(bucket) -> tuple[list[torch.Tensor], list]:
    buf = bucket.buffer()
    params = bucket.parameters()
    views, pos = [], 0
    for p in params:
        n = p.numel()
        views.append(buf[pos:pos + n])
        pos += n
    if pos != buf.numel():
        raise RuntimeError(f"bucket buffer holds {buf.numel()} values, its parameters {pos}")
    return views, params


def _done(buf: torch.Tensor) -> torch.futures.Future:
    fut: torch.futures.Future = torch.futures.Future()
    fut.set_result(buf)
    return fut


def terngrad_hook(state: TernGradState, bucket):  # no annotation: DDP checks it literally
    """DDP communication hook: TernGrad-average the bucket (see the module docstring)."""
    buf = bucket.buffer()
    if buf.dtype != torch.float32:
        raise TypeError(f"gradient bucket must be float32, got {buf.dtype}")
    views, params = _bucket_views(bucket)
    exchange(views, [id(p) in state.float_params for p in params], state)
    return _done(buf)


@dataclass
class DenseState:
    """The fp32 baseline hook's state: same accounting as TernGradState.stats."""

    process_group: Any = None
    stats: ExchangeStats = field(default_factory=ExchangeStats)


def dense_hook(state: DenseState, bucket):
    """fp32 all_reduce (SUM, / ranks) of the bucket, synchronous and counted like terngrad_hook."""
    pg, _, R = _group(state)
    buf = bucket.buffer()
    t0 = time.perf_counter()
    dist.all_reduce(buf, group=pg)
    buf.div_(R)
    st = state.stats
    st.exchange_s += time.perf_counter() - t0
    st.calls += 1
    st.numel += buf.numel()
    st.payload_bytes += 4 * buf.numel()
    st.fp32_bytes += 4 * buf.numel()
    st.ring_wire_bytes += ring_allreduce_bytes(4 * buf.numel(), R)
    st.ring_wire_bytes_fp32 += ring_allreduce_bytes(4 * buf.numel(), R)
    return _done(buf)


def reference_average(per_rank: list[list[torch.Tensor]], keep: list[bool], *, seed: int, call: int,
                      mode: str = "max", c: float = 2.5) -> list[torch.Tensor]:
    """What ``exchange`` computes, in one process from every rank's gradients, with the reference
    formulas: S = max over ranks of the scalers, codes drawn with S per rank, summed, * S / R."""
    from . import reference as ref

    R = len(per_rank)
    out = []
    for i, k in enumerate(keep):
        gs = [per_rank[r][i] for r in range(R)]
        if k:
            out.append(torch.stack(gs).sum(0) / R)
            continue
        S = max(ref.scaler(g, mode, c) for g in gs)
        packed = torch.stack([ref.ternarize_pack(g, S, segment_seed(seed, r, call, i)) for r, g in enumerate(gs)])
        scale = float(np.float32(S) / np.float32(R))
        out.append(ref.decode(packed, gs[0].numel(), scale))
    return out
