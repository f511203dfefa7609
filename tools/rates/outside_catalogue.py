"""Outside-the-catalogue check of the planes engine and the activation-gradient taps layout:
ours vs the faster torch-dense layout, side by side (the harness timer), 1 thread, s = 0.9.
Shapes from networks the catalogue does not hold (MobileNetV2 first expand, an EfficientNet-style
7x7 project, a BERT FFN linear, a ResNet stem, a 1-channel 5x5). Development aid for issue 19.

    python tools/rates/outside_catalogue.py
"""
import torch
from sparsebench.measure.timer import time_interleaved
from sparsebench.methods.actgrad import kernels as ag
from sparsebench.methods.actgrad.format import compress_reference
from sparsebench.formats.base import ConvGeometry
from sparsebench.formats.block.format import BlockSparseWeight
from sparsebench.formats.filter.format import FilterSparseWeight
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)

def dense_fwd(x, w, s, p):
    xcl = x.contiguous(memory_format=torch.channels_last)
    return {"nchw": lambda: torch.nn.functional.conv2d(x, w, stride=s, padding=p),
            "cl": lambda: torch.nn.functional.conv2d(xcl, w, stride=s, padding=p)}

def report(name, fns):
    r = {k: v.median_s for k, v in time_interleaved(fns, rounds=7).items()}
    dense = min(v for k, v in r.items() if k != "ours")
    print(f"| {name} | {r['ours']*1e3:.2f} | {dense*1e3:.2f} | {dense / r['ours']:.2f} |")

print("| case (outside the catalogue), s = 0.9, 1 thread | ours ms | dense ms (faster layout) | speedup |")
print("|---|---|---|---|")
# pointwise: MobileNetV2's first expand (Cin 24 -> 144 at 56x56), EfficientNet-ish 7x7 project, BERT FFN linear
for (n, cin, cout, hw) in ((8, 24, 144, 56), (32, 960, 160, 7)):
    x = torch.randn(n, cin, hw, hw, generator=g)
    for scheme, cls in (("block", BlockSparseWeight), ("filter", FilterSparseWeight)):
        sw = cls.random((cout, cin, 1, 1), 0.9, seed=1)
        wd = sw.to_dense()
        fns = {"ours": lambda sw=sw, x=x: sw.forward(x, ConvGeometry(), threads=1), **dense_fwd(x, wd, 1, 0)}
        report(f"{scheme} forward 1x1 {cin}->{cout} at {hw}x{hw}, batch {n}", fns)
        dy = torch.randn(n, cout, hw, hw, generator=g)
        fns = {"ours": lambda sw=sw, x=x, dy=dy: sw.weight_grad_sampled(x, dy, ConvGeometry(), threads=1),
               "nchw": lambda x=x, dy=dy, wd=wd: torch.nn.grad.conv2d_weight(x, wd.shape, dy)}
        report(f"{scheme} weight-grad 1x1 {cin}->{cout} at {hw}x{hw}, batch {n}", fns)
B, fin, fout = 128, 768, 3072
x = torch.randn(B, fin, generator=g)
sw = BlockSparseWeight.random((fout, fin), 0.9, seed=2)
wd = sw.to_dense()
report(f"block forward linear {fin}->{fout}, batch {B}", {"ours": lambda: sw.forward(x, threads=1), "rm": lambda: x @ wd.T})
# actgrad few-channel: ResNet stem (7x7 stride 2 on 3 channels), dO at density 0.06
for (n, cin, cout, hw, k, s, p) in ((8, 3, 64, 112, 7, 2, 3), (8, 1, 32, 64, 5, 1, 2)):
    x = torch.randn(n, cin, hw, hw, generator=g)
    w = torch.randn(cout, cin, k, k, generator=g)
    ho = (hw + 2 * p - k) // s + 1
    dy = torch.randn(n, cout, ho, ho, generator=g)
    dy = torch.where(torch.rand(dy.shape, generator=g) < 0.06, dy, torch.zeros_like(dy))
    sg = compress_reference(dy)
    report(f"actgrad backward-data {k}x{k}/s{s} on {cin} channels, {hw}x{hw}, dO density 0.06",
           {"ours": lambda: ag.conv2d_backward_data(w, sg, (hw, hw), s, p, threads=1),
            "nchw": lambda: torch.nn.grad.conv2d_input(x.shape, w, dy, stride=s, padding=p)})
    report(f"actgrad weight-grad {k}x{k}/s{s} on {cin} channels, {hw}x{hw}, dO density 0.06",
           {"ours": lambda: ag.conv2d_weight_grad(x, sg, (k, k), s, p, threads=1),
            "nchw": lambda: torch.nn.grad.conv2d_weight(x, w.shape, dy, stride=s, padding=p)})
