"""Peak memory of MEST training vs dense training vs the masked-dense implementation the authors
ship (dense weights and gradients plus masks), each in a fresh process.

One child per (model, implementation, scheme, sparsity): it imports torch and sparsebench, fixes
glibc's mmap threshold (runners.memory._fresh_malloc: large buffers are mapped and unmapped per
allocation), resets the peak RSS (/proc/self/clear_refs), then builds the model and its optimizer
and trains: one step, one mutation (MEST and masked-dense only), one more step (so momentum
buffers exist). It reports VmHWM - VmRSS before the build (``peak_bytes``) and the analytic bytes
of what training holds (``held_bytes``: weights in their format + gradients + momentum + masks).

  mest          SparseLinear / SparseConv2d built in the compressed format (init.py), sparse SGD
                through torch.optim.SGD on the values, mutation on kernels/mest
  masked-dense  nn.Linear / nn.Conv2d with a float mask per layer: grad *= mask, step, w *= mask
  dense         nn.Linear / nn.Conv2d, no mask

    python -m sparsebench.methods.mest.memory '<json config>'   (one child; prints one JSON line)
"""

from __future__ import annotations

import json
import subprocess
import sys

MODELS = {
    # weights dominate: what memory-economic training is about
    "mlp": {"kind": "mlp", "sizes": [1024, 4096, 4096, 1024], "batch": 64},
    "cnn": {"kind": "cnn", "channels": 512, "layers": 3, "hw": 8, "batch": 8},
}
IMPLS = ("mest", "masked-dense", "dense")
TIMEOUT_S = 300


def _shapes(model: dict) -> list[tuple[int, ...]]:
    if model["kind"] == "mlp":
        s = model["sizes"]
        return [(s[i + 1], s[i]) for i in range(len(s) - 1)]
    c = model["channels"]
    return [(c, c, 3, 3)] * model["layers"]


def _child(cfg: dict) -> dict:
    import torch
    import torch.nn.functional as F
    from torch import nn

    from ...measure import measure_peak_delta
    from ...formats.modules import SparseConv2d, SparseLinear
    from ...runners.memory import _fresh_malloc
    from .init import random_sparse_weight
    from .mutate import mutate
    from .train import units_for_ratio
    from .units import stored_units

    _fresh_malloc()
    torch.set_num_threads(cfg.get("threads", 1))
    model_cfg = MODELS[cfg["model"]]
    impl, s, scheme = cfg["impl"], float(cfg["sparsity"]), cfg.get("scheme", "unstructured")
    shapes = _shapes(model_cfg)
    conv = model_cfg["kind"] == "cnn"
    held = {}

    def build():
        layers, masks = [], []
        for i, shp in enumerate(shapes):
            if impl == "mest":
                sw = random_sparse_weight(shp, scheme, s, seed=0, layer=i)
                layers.append(SparseConv2d.from_sparse(sw, 1, 1, bias=False) if conv else
                              SparseLinear.from_sparse(sw, bias=False))
            else:
                layers.append(nn.Conv2d(shp[1], shp[0], 3, padding=1, bias=False) if conv else
                              nn.Linear(shp[1], shp[0], bias=False))
                if impl == "masked-dense":  # the authors' float masks, random at the target
                    m = (torch.rand(shp) >= s).float()
                    with torch.no_grad():
                        layers[-1].weight.mul_(m)
                    masks.append(m)
        net = nn.Sequential(*[x for l in layers for x in (l, nn.ReLU())][:-1])
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        return net, layers, masks, opt

    def train():
        net, layers, masks, opt = build()
        gen = torch.Generator().manual_seed(0)
        if conv:
            x = torch.randn(model_cfg["batch"], shapes[0][1], model_cfg["hw"], model_cfg["hw"], generator=gen)
        else:
            x = torch.randn(model_cfg["batch"], shapes[0][1], generator=gen)

        def step():
            opt.zero_grad()
            loss = net(x).square().mean()
            loss.backward()
            for l, m in zip(layers, masks):
                l.weight.grad.mul_(m)
            opt.step()
            with torch.no_grad():
                for l, m in zip(layers, masks):
                    l.weight.mul_(m)

        step()
        for i, l in enumerate(layers):  # one mutation at ratio 0.02
            if impl == "mest":
                u = stored_units(l.sw)  # counts only: no unit list is built
                kept = u.n_kept
                n = min(units_for_ratio(0.02, s, kept), u.n_units - kept, kept)
                del u
                mutate(l, n, n, optimizer=opt, seed=i)
            elif impl == "masked-dense":
                flat = masks[i].view(-1)
                kept, free = torch.nonzero(flat).flatten(), torch.nonzero(flat == 0).flatten()
                n = min(int(round(0.02 * flat.numel())), free.numel(), kept.numel())
                drop = kept[torch.topk(l.weight.detach().view(-1)[kept].abs(), n, largest=False).indices]
                grow = free[torch.randperm(free.numel(), generator=gen)[:n]]
                flat[drop], flat[grow] = 0.0, 1.0
                with torch.no_grad():
                    l.weight.mul_(masks[i])
        step()
        nbytes = 0
        for p in net.parameters():
            nbytes += p.numel() * 4 * (2 + (p in opt.state))  # value, grad, momentum
        for l in layers:
            if impl == "mest":
                nbytes += l.sw.tensor_bytes() - 4 * l.sw.values.numel()  # indices and caches
        nbytes += sum(m.numel() * 4 for m in masks)
        held["held_bytes"] = nbytes
        held["nnz"] = sum(int(l.sw.nnz) for l in layers) if impl == "mest" else \
            sum(int(l.weight.count_nonzero()) for l in layers)
        return None

    pd = measure_peak_delta(train)
    return {**cfg, "peak_bytes": pd.peak_delta_bytes, "memory_method": pd.method, **held,
            "dense_weights": sum(int(__import__("math").prod(x)) for x in shapes)}


def measure(model: str, impl: str, sparsity: float, scheme: str = "unstructured", threads: int = 1) -> dict:
    """One fresh child's figures (see the module doc); {"error": ...} when the child failed."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    cfg = {"model": model, "impl": impl, "sparsity": float(sparsity), "scheme": scheme, "threads": threads}
    try:
        out = subprocess.run([sys.executable, "-m", __name__, json.dumps(cfg)], capture_output=True, text=True,
                             timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {**cfg, "error": f"timeout after {TIMEOUT_S} s"}
    line = next((ln for ln in out.stdout.splitlines()[::-1] if ln.startswith("{")), None)
    if out.returncode != 0 or line is None:
        return {**cfg, "error": f"child exit {out.returncode}: {out.stderr.strip()[-400:]}"}
    return json.loads(line)


def sweep(model: str = "mlp", sparsities=(0.5, 0.8, 0.9, 0.95), schemes=("unstructured",), threads: int = 1):
    """Rows of the peak-memory table: dense once, then masked-dense and MEST per sparsity."""
    rows = [measure(model, "dense", 0.0, threads=threads)]
    for s in sparsities:
        rows.append(measure(model, "masked-dense", s, threads=threads))
        for scheme in schemes:
            rows.append(measure(model, "mest", s, scheme=scheme, threads=threads))
    return rows


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
