"""`sparsebench train`: one model, one method, N steps against the dense model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _fmt_layers(metrics: dict, label: str) -> str:
    rows = []
    for d in metrics["layers"]:
        got = ""
        if "weight_density" in d:
            got = f"weight density {d['weight_density']:.3f}"
        elif "grad_density" in d:
            got = f"dO density {d['grad_density']:.3f} (last step)"
        state = "converted" if d["converted"] else f"dense: {d['reason']}"
        rows.append(f"  {d['name']:<28} {d['geometry']:<12} {state:<58} {got}")
    return "\n".join(rows)


def report_text(res: dict) -> str:
    from .figures import table

    case, m = res["case"], res["metrics"]
    label = case["scheme"]
    d, s = m["dense"], m["method"]
    lines = [
        f"{case['model']} x {case['method']}/{case['scheme']} at {m['rate_label']} {case['sparsity']:g}, "
        f"batch {case['batch']}, {case['threads']} thread(s), {case['world_size']} rank(s), data {case['data']}",
        f"step time (median [IQR] of {len(d['samples'])} interleaved steps): dense {d['median_s'] * 1e3:.1f} ms "
        f"[{d['iqr_s'] * 1e3:.1f}], {label} {s['median_s'] * 1e3:.1f} ms [{s['iqr_s'] * 1e3:.1f}]",
        f"step speedup vs dense: {m['speedup']:.2f}x",
        f"layers: {m['converted']} converted, {m['dense_layers']} dense",
        _fmt_layers(m, label),
        "",
        "breakdown (ms per step under torch.profiler; dense torch computes dX + dW in one op, shown as 'dense bwd'):",
        table(m["breakdown"]["dense"], m["breakdown"]["method"], res["infos"], label),
    ]
    if "communication_share" in m:
        cs = m["communication_share"]
        lines.append(f"communication (exposed all-reduce, step with vs without sync): dense {cs['dense']:.0%}, "
                     f"{label} {cs['method']:.0%} of the step; masks identical on every rank: {m['masks_identical']}")
    if "memory" in m:
        mem = m["memory"]

        def mb(v):
            return "n/a" if v.get("peak_delta_bytes") is None else f"{v['peak_delta_bytes'] / 2**20:.1f} MiB"

        lines.append(f"peak memory of one step (fresh process, peak RSS delta): dense {mb(mem['dense'])}, "
                     f"{label} {mb(mem['method'])}")
    if "scaling" in m:
        sc = m["scaling"]
        lines.append(f"scaling 1 -> {case['world_size']} ranks (samples/s): dense {sc['dense']:.2f}x, "
                     f"{label} {sc['method']:.2f}x (ranks share this machine's cores: not a cluster figure)")
    return "\n".join(lines)


def _record(res: dict, args) -> Path:
    return save(res, Path(args.out) if args.out else None, Path(args.results))


def save(res: dict, path: Path | None = None, results: Path = Path("results")) -> Path:
    """Append the run's "train" record (and a machine record to a new file) atomically."""
    from .. import kernels
    from ..harness.run import compact_machine
    from ..measure import ResultStore, default_results_path, machine_record, make_record

    isa = kernels.resolve_isa(None)
    full = machine_record(isa=isa)
    path = path or default_results_path(results, full)
    store = ResultStore(path)
    recs = [] if path.exists() else [make_record("machine", {}, {}, full)]
    recs.append(make_record("train", res["case"], res["metrics"], {**compact_machine(full, isa),
                                                                   "threads": res["case"]["threads"]}))
    store.extend(recs)
    return path


def config_from(args):
    from .run import TrainConfig

    rate = args.rate if args.rate is not None else args.sparsity
    return TrainConfig(model=args.model, method=args.method, scheme=args.scheme,
                       sparsity=0.9 if rate is None else rate, steps=args.steps, threads=args.threads, data=args.data,
                       batch=args.batch, seed=args.seed, mask_update_every=args.mask_update_every,
                       warmup=args.warmup, profile_steps=args.profile_steps,
                       memory=not args.no_memory, input_shape=_input_shape(args))


def _input_shape(args):
    from ..models.user import parse_input_shape

    return None if args.input_shape is None else parse_input_shape(args.input_shape)


def run_ranks_train(cfg, ranks: int) -> dict:
    """The run on ``ranks`` gloo ranks over loopback (runners.distributed) and on 1 rank, for the
    scaling line; rank 0's result with "scaling" added."""
    from ..runners.distributed import run_ranks

    kw = {k: v for k, v in cfg.to_dict().items() if k not in ("memory", "plot_dir")}
    one = run_ranks("sparsebench.train.run:rank_main", 1, kwargs=kw, threads=cfg.threads, timeout_s=1800)[0]
    many = run_ranks("sparsebench.train.run:rank_main", ranks, kwargs=kw, threads=cfg.threads, timeout_s=1800)[0]
    many["metrics"]["scaling"] = {k: many["metrics"]["samples_per_s"][k] / one["metrics"]["samples_per_s"][k]
                                  for k in ("dense", "method")}
    return many


def _cmd_train(args: argparse.Namespace) -> int:
    from .. import models
    from .convert import resolve_method
    from .run import env_world, train

    try:  # a bad --model / --input-shape is refused before anything runs or is written
        cfg = config_from(args)
        models.network(cfg.model, cfg.input_shape)
        resolve_method(cfg.method, cfg.scheme)
    except ValueError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    if args.ranks > 1:
        res = run_ranks_train(cfg, args.ranks)
        res["infos"] = res["metrics"]["layers"]
    else:
        if env_world() > 1:  # under torchrun
            from ..runners.distributed import init_from_env

            init_from_env()
        res = train(cfg, progress=not args.quiet)
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return 0
    path = _record(res, args)
    print(report_text(res))
    png = path.with_name(f"{path.stem}-{res['case']['id'].replace('/', '_')}.png")
    from .figures import plot

    b = res["metrics"]["breakdown"]
    plot(b["dense"], b["method"], res["infos"], res["case"]["scheme"],
         f"{res['case']['id']}: step speedup {res['metrics']['speedup']:.2f}x", png)
    print(f"plot: {png}\nrecord: {path}")
    return 0


def add_commands(sub) -> None:
    from .. import models

    p = sub.add_parser("train", help="time a model's training step with a method vs dense, per layer and stage")
    p.add_argument("--model", required=True, metavar="NAME|package.module:factory",
                   help=f"a zoo model ({', '.join(models.names())}) or your own: a zero-argument factory "
                        "returning an nn.Module (the working directory is importable); needs --input-shape")
    p.add_argument("--input-shape", metavar="C,H,W", help="one sample's shape, for a user model")
    p.add_argument("--method", required=True,
                   help="a method, or a scheme one trains on (a weight format name selects the static-mask method)")
    p.add_argument("--scheme", help="the method's scheme (default: its first)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--sparsity", type=float, help="weight sparsity (default 0.9)")
    g.add_argument("--rate", type=float, help="the method's rate, e.g. a pruning rate p (same slot as --sparsity)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per model (interleaved)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", choices=("digits", "mnist", "synthetic"), default="digits",
                   help="bundled real data resized to the model's input, or Gaussian noise")
    p.add_argument("--batch", type=int, help="batch per rank (default: the catalogue's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per model before timing")
    p.add_argument("--profile-steps", type=int, default=2, help="profiled steps per model for the breakdown")
    p.add_argument("--mask-update-every", type=int, default=0, help="a mask change every K steps (0: never)")
    p.add_argument("--ranks", type=int, default=1,
                   help="data-parallel ranks over gloo on this machine (also reports 1 -> N scaling); "
                        "under torchrun leave it at 1")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--results", default="results")
    p.add_argument("--out", help="record file (default results/<machine>/<time>-<commit>.json)")
    p.set_defaults(func=_cmd_train)
