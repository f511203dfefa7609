"""Static-mask sparse training on any weight format: a mask chosen once (by magnitude or at
random), training through the format's stage kernels (SparseConv2d / SparseLinear), and the
mask_update stage that dynamic methods (MEST, SET) pay when they prune and regrow.

  bench.py  benchmark cases per profile and what each stage times
Its kernels and their cross-validation ops live with the formats (sparsebench.formats).
"""

from __future__ import annotations

import torch
from torch import nn

from ...formats import available_formats, get_format
from ...formats.modules import SparseConv2d, SparseLinear
from ..base import Method
from . import bench


class StaticMaskMethod(Method):
    name = "static_mask"
    suite = bench.SUITE
    title = "static-mask sparse training on a weight format"
    rate_label = "weight sparsity s"
    stages = bench.STAGES
    bench = bench

    def refusals(self, profile):
        return bench.refusals(profile)

    def dense_forward_case(self, layer, sparsity, threads):
        return bench.BenchCase(bench.SUITE, layer, available_formats()[0], "forward", sparsity or 0.0, threads)

    def accuracy_cases(self, dataset, quick):
        sparsities = (0.7, 0.9) if quick else (0.5, 0.7, 0.8, 0.9, 0.95)
        return [(scheme, s) for scheme in available_formats() for s in sparsities
                if get_format(scheme).min_sparsity <= s]

    def apply(self, model, scheme, sparsity, *, seed=0, generator=None):
        """Every nn.Conv2d / nn.Linear replaced by its sparse twin on ``scheme``, masked by magnitude
        (a layer the format cannot hold, e.g. a linear layer under pattern, takes the finest format
        that can: the first in available_formats())."""
        gen = generator if generator is not None else torch.Generator().manual_seed(seed)
        for name, child in list(model.named_children()):
            if isinstance(child, (nn.Conv2d, nn.Linear)):
                shape = tuple(child.weight.shape)
                kind = next(f for f in (scheme, *available_formats()) if get_format(f).accepts(shape, sparsity))
                twin = SparseConv2d if isinstance(child, nn.Conv2d) else SparseLinear
                setattr(model, name, twin.from_dense(child, scheme=kind, sparsity=sparsity, generator=gen))
            else:
                self.apply(child, scheme, sparsity, generator=gen)
        return model

    # --- whole-network training ----------------------------------------------------------------
    # first conv and classifier stay dense, as SWAT (first layer) and the RigL / MEST-style
    # CIFAR runs do: they hold few weights and the first sees only 3 input channels
    dense_first = True
    dense_last = True
    train_stages = ("forward", "backward_data", "weight_grad_sampled", "update", "mask_update")

    def train_schemes(self):
        return tuple(available_formats())

    def layer_refuses(self, module, scheme, sparsity):
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or tuple(module.dilation) != (1, 1) or isinstance(module.padding, str):
                return f"groups={module.groups}, dilation={tuple(module.dilation)}: the formats hold groups=1 convolutions"
            if module.kernel_size[0] != module.kernel_size[1] or module.stride[0] != module.stride[1]:
                return "non-square kernel or stride"
        elif not isinstance(module, nn.Linear):
            return f"{type(module).__name__} is not a conv / linear layer"
        try:
            fmt = get_format(scheme)
        except KeyError as exc:
            return str(exc)
        return fmt.refuses(tuple(module.weight.shape), sparsity)

    def convert_layer(self, module, scheme, sparsity, *, seed, index, threads, generator):
        twin = SparseConv2d if isinstance(module, nn.Conv2d) else SparseLinear
        return twin.from_dense(module, scheme=scheme, sparsity=sparsity, generator=generator, threads=threads)

    def mask_update(self, model, optimizer, generator):
        changed = 0
        for mod in model.modules():
            if isinstance(mod, (SparseConv2d, SparseLinear)):
                changed += mod.prune_grow(bench.MASK_UPDATE_FRACTION, optimizer=optimizer, generator=generator)["grown"]
        return changed

    def layer_facts(self, module):
        if not isinstance(module, (SparseConv2d, SparseLinear)):
            return {}
        return {"weight_density": module.sw.density, "nnz": module.sw.nnz,
                "mask_digest": bench.mask_digest(module.sw.mask())}


METHOD = StaticMaskMethod()
