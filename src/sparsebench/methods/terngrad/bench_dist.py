"""The exchange across ranks, measured in several processes (runners.distributed.run_ranks, gloo
over loopback): per gradient size, the time of one data-parallel gradient exchange, dense fp32
all_reduce vs TernGrad (scaler + all_reduce MAX of the scaler + ternarize/pack + all_gather of the
packed bytes + decode/average, comm.exchange), at 2 and 4 ranks; the bytes each rank sends; and
the exchange modelled at link speeds from those bytes and the measured encode / decode times.

    python -m sparsebench.methods.terngrad.bench_dist --ranks 2 4 --out results/terngrad/exchange.json

Sizes: the weight gradients of catalogue layers and a ResNet-18-sized gradient (11,173,962
values). Each round starts after a barrier; a round's time is the slowest rank's. One record per
(ranks, size), appended atomically as soon as measured: a failing run keeps the rows before it.
Loopback bandwidth is far above any network's: the "modelled" rows say what a link would cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

RESNET18_NUMEL = 11_173_962  # torchvision resnet18 parameters (ImageNet head)
LINKS_GBIT = (1.0, 10.0)


def sizes(profile: str = "quick") -> dict[str, int]:
    from ...catalogue import profile as get_profile
    from .bench import grad_numel

    out = {layer: grad_numel(layer) for layer in get_profile(profile).layers}
    out["resnet18-grad"] = RESNET18_NUMEL
    return out


def exchange_rank(rank: int, world: int, *, sizes: dict, rounds: int, mode: str = "max") -> dict:
    """Runs on every rank: median seconds (slowest rank per round) of each exchange per size."""
    import torch
    import torch.distributed as dist

    from . import comm

    out = {}
    for name, n in sizes.items():
        g = torch.randn(n, generator=torch.Generator().manual_seed(100 + rank)) * 1e-3
        work = torch.empty_like(g)
        state = comm.TernGradState(mode=mode, seed=7, threads=torch.get_num_threads())
        samples = {"fp32": [], "terngrad": [], "encode": [], "wire": [], "decode": []}
        for r in range(rounds + 1):  # round 0 warms up
            work.copy_(g)
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(work)
            work.div_(world)
            t_fp32 = time.perf_counter() - t0
            work.copy_(g)
            state.stats.reset()
            dist.barrier()
            t0 = time.perf_counter()
            comm.exchange([work], [False], state)
            t_tern = time.perf_counter() - t0
            per = torch.tensor([t_fp32, t_tern, state.stats.encode_s, state.stats.exchange_s, state.stats.decode_s],
                               dtype=torch.float64)
            dist.all_reduce(per, op=dist.ReduceOp.MAX)  # the slowest rank sets the step
            if r:
                for k, v in zip(samples, per.tolist()):
                    samples[k].append(v)
        st = state.stats
        out[name] = {"numel": n, **{f"{k}_s": statistics.median(v) for k, v in samples.items()},
                     "payload_bytes": st.payload_bytes, "fp32_bytes": st.fp32_bytes,
                     "ring_wire_bytes": st.ring_wire_bytes, "ring_wire_bytes_fp32": st.ring_wire_bytes_fp32}
    return out


def modelled(row: dict, gbit: float) -> dict:
    """Exchange time at a link speed: bytes on the wire (ring model) / rate, plus the measured
    encode and decode for TernGrad. Latency and the loopback's own costs are left out."""
    rate = gbit * 1e9 / 8
    return {"fp32_s": row["ring_wire_bytes_fp32"] / rate,
            "terngrad_s": row["encode_s"] + row["decode_s"] + row["ring_wire_bytes"] / rate}


def run(ranks=(2, 4), profile: str = "quick", rounds: int = 5, out: str = "results/terngrad/exchange.json",
        timeout_s: float = 300.0, only: list[str] | None = None, mode: str = "max") -> Path:
    from ...measure import ResultStore, make_record
    from ...runners.distributed import run_ranks

    store = ResultStore(Path(out))
    todo = {k: v for k, v in sizes(profile).items() if not only or k in only}
    for world in ranks:
        for name, n in todo.items():  # one run per size: a failure keeps the sizes before it
            res = run_ranks("sparsebench.methods.terngrad.bench_dist:exchange_rank", world,
                            kwargs={"sizes": {name: n}, "rounds": rounds, "mode": mode}, timeout_s=timeout_s)
            row = res[0][name]
            row["speedup_vs_fp32"] = row["fp32_s"] / row["terngrad_s"]
            row["bytes_ratio_fp32"] = row["fp32_bytes"] / row["payload_bytes"]
            row["modelled"] = {f"{g:g}Gbit": modelled(row, g) for g in LINKS_GBIT}
            row["link"] = "loopback (measured); modelled rows at 1 and 10 Gbit/s"
            store.append(make_record("exchange", {"suite": "terngrad", "layer": name, "ranks": world,
                                                  "scaler_mode": mode}, row, {}))
            m1, m10 = row["modelled"]["1Gbit"], row["modelled"]["10Gbit"]
            print(f"{world} ranks {name:16s} n={n:>9d}: fp32 {1e3 * row['fp32_s']:8.2f} ms, terngrad "
                  f"{1e3 * row['terngrad_s']:7.2f} ms (enc {1e3 * row['encode_s']:.2f}, wire {1e3 * row['wire_s']:.2f}, "
                  f"dec {1e3 * row['decode_s']:.2f}) {row['speedup_vs_fp32']:.2f}x; bytes {row['bytes_ratio_fp32']:.2f}x less; "
                  f"modelled 1G {1e3 * m1['fp32_s']:.1f}/{1e3 * m1['terngrad_s']:.1f} ms, "
                  f"10G {1e3 * m10['fp32_s']:.1f}/{1e3 * m10['terngrad_s']:.1f} ms", flush=True)
    return store.path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sparsebench.methods.terngrad.bench_dist", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    p.add_argument("--profile", default="quick", help="catalogue profile whose layers give the sizes")
    p.add_argument("--only", nargs="*", help="only these size names (layers, resnet18-grad)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--mode", default="max", choices=("max", "std"))
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per run before it fails")
    p.add_argument("--out", default="results/terngrad/exchange.json")
    a = p.parse_args(argv)
    print(f"records: {run(a.ranks, a.profile, a.rounds, a.out, a.timeout, a.only, a.mode)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
