"""The conv / linear layer shapes a model runs, with their share of the model's dense forward
FLOPs, read from one forward pass (hooks record each layer's input), spelled as the ``--shape``
specs `sparsebench run` takes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import shapes


@dataclass
class LayerShape:
    name: str  # the module's path in the model
    spec: str  # a --shape spec (canonical when a scheme can run it)
    flops: int  # dense forward FLOPs of the layer at this batch (2 per multiply-add)
    share: float  # of the conv + linear FLOPs of the model
    refused: str = ""  # why `run` cannot take it (groups, dilation, ...); "" when it can


def _conv_spec(m: nn.Conv2d, x: torch.Tensor) -> tuple[str, int]:
    n, _, h, w = x.shape
    kh, kw = m.kernel_size
    sh, sw = m.stride
    ph, pw = m.padding if isinstance(m.padding, tuple) else (0, 0)  # "same"/"valid" strings: resolved below
    if isinstance(m.padding, str):
        ph, pw = ((kh - 1) // 2, (kw - 1) // 2) if m.padding == "same" else (0, 0)
    keys = [f"cin={m.in_channels}", f"cout={m.out_channels}"]
    keys += [f"k={kh}"] if kh == kw else [f"kh={kh}", f"kw={kw}"]
    keys += [f"stride={sh}" if sh == sw else f"stride={sh}x{sw}", f"pad={ph}" if ph == pw else f"pad={ph}x{pw}"]
    keys += [f"hw={h}"] if h == w else [f"h={h}", f"w={w}"]
    keys += [f"batch={n}"]
    if m.groups != 1:
        keys.append(f"groups={m.groups}")
    if m.dilation != (1, 1):
        keys.append(f"dilation={m.dilation[0]}")
    oh = (h + 2 * ph - m.dilation[0] * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - m.dilation[1] * (kw - 1) - 1) // sw + 1
    flops = 2 * n * m.out_channels * (m.in_channels // m.groups) * kh * kw * oh * ow
    return "conv:" + ",".join(keys), flops


def _linear_spec(m: nn.Linear, x: torch.Tensor) -> tuple[str, int]:
    batch = x.numel() // max(x.shape[-1], 1)
    return f"linear:in={m.in_features},out={m.out_features},batch={batch}", 2 * batch * m.in_features * m.out_features


def layer_shapes(model: nn.Module, input_shape: tuple[int, int, int], batch: int) -> list[LayerShape]:
    """Every nn.Conv2d / nn.Linear the forward of a ``batch`` of zeros reaches, in call order
    (a module called twice is listed twice)."""
    if batch < 1:
        raise ValueError(f"--batch must be >= 1, got {batch}")
    seen: list[tuple[str, str, int]] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(mod, args):
        x = args[0]
        spec, flops = _conv_spec(mod, x) if isinstance(mod, nn.Conv2d) else _linear_spec(mod, x)
        seen.append((names[mod], spec, flops))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if type(m) in (nn.Conv2d, nn.Linear)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(batch, *input_shape))
    finally:
        for h in handles:
            h.remove()
    total = sum(f for _, _, f in seen) or 1
    out = []
    for name, spec, flops in seen:
        try:
            spec, refused = shapes.parse(spec).name, ""
        except shapes.ShapeError as exc:
            refused = str(exc).split(": ", 1)[-1]
        out.append(LayerShape(name, spec, flops, flops / total, refused))
    return out


def unique(layers: list[LayerShape]) -> list[tuple[str, int, float, str]]:
    """(spec, count, summed share, refused) per distinct spec, largest share first."""
    acc: dict[str, list] = {}
    for ls in layers:
        a = acc.setdefault(ls.spec, [0, 0.0, ls.refused])
        a[0] += 1
        a[1] += ls.share
    return sorted(((s, c, sh, r) for s, (c, sh, r) in acc.items()), key=lambda t: -t[2])


def to_toml(model: str, layers: list[LayerShape]) -> str:
    """A shapes file for `sparsebench run --shapes-file`: the distinct runnable shapes; the ones
    no scheme runs stay as comments saying why."""
    lines = [f"# layer shapes of {model} (sparsebench shapes), largest share of dense forward FLOPs first", "shapes = ["]
    skipped = []
    for spec, count, share, refused in unique(layers):
        if refused:
            skipped.append(f"# not runnable ({refused}): {spec}  x{count}, {share:.1%}")
        else:
            lines.append(f'  "{spec}",  # x{count}, {share:.1%} of the FLOPs')
    lines.append("]")
    return "\n".join(lines + skipped) + "\n"


def to_text(layers: list[LayerShape]) -> str:
    width = max((len(ls.name) for ls in layers), default=5)
    rows = [f"{'layer':<{width}}  {'MFLOP':>9}  {'share':>6}  shape"]
    for ls in layers:
        note = f"   (refused: {ls.refused})" if ls.refused else ""
        rows.append(f"{ls.name:<{width}}  {ls.flops / 1e6:>9.1f}  {ls.share:>6.1%}  {ls.spec}{note}")
    total = sum(ls.flops for ls in layers)
    rows.append(f"{len(layers)} layers, {total / 1e9:.3f} GFLOP dense forward; "
                f"{len(unique(layers))} distinct shapes")
    return "\n".join(rows)
