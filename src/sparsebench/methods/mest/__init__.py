"""MEST (Yuan et al., NeurIPS 2021): memory-economic sparse training. The model is sparse from
initialization, held in the compressed format from the first step (init.py: no dense weight of a
layer is ever allocated), and its structure mutates during training: prune the lowest
|w| + lambda * |grad w| units, grow as many at random among the zeros, zero-initialized
(mutate.py; C++ in kernels/mest, reference.py in PyTorch). Schedules (schedule.py): MEST (fixed
ratio), MEST+EM (elastic mutation, decaying ratio), MEST+EM&S (soft memory bound: grow first,
prune back at the next update). Schemes: unstructured (CSR), block (MEST's: one lowered column
inside 4 consecutive filters, BSR (4, 1)), pattern (8 four-tap patterns + connectivity), filter.
Data efficiency (forgetting.py): forgetting events counted in the loss's forward pass and a
two-phase run dropping the least-forgotten examples.

  scheme spec (accuracy runs): "<format>[+em|+ems|+static][+drop][@<every>]" (static: no mutation)
      e.g. "block+ems@2": block scheme, EM&S schedule, mutate every 2 epochs
  bench.py     benchmark cases (suite "mest") per scheme x catalogue layer x stage
  memory.py    peak memory of a training step in a fresh process: MEST vs masked-dense vs dense
  claims.py    the method's claim comparisons (claim_measures)
"""

from __future__ import annotations

import torch
from torch import nn

from ...formats import get_format
from ...formats.modules import SparseConv2d, SparseLinear
from ..base import Method
from . import bench, claims
from .init import SCHEMES, check_target, random_sparse_weight
from .schedule import Schedule
from .train import DataEfficiency, MestTrainer, sparse_layers

VARIANTS = {"": "mest", "em": "em", "ems": "ems", "static": "static"}


def parse_spec(spec: str) -> tuple[str, Schedule, DataEfficiency | None]:
    """(format, schedule, data efficiency or None) of a scheme spec; ValueError naming ``scheme``."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"scheme must be a non-empty string, got {spec!r}")
    body, _, every = spec.partition("@")
    parts = body.split("+")
    fmt, flags = parts[0], parts[1:]
    if fmt not in SCHEMES:
        raise ValueError(f"scheme {spec!r}: format must be one of {SCHEMES}, got {fmt!r}")
    drop = "drop" in flags
    flags = [f for f in flags if f != "drop"]
    if len(flags) > 1 or (flags and flags[0] not in VARIANTS):
        raise ValueError(f"scheme {spec!r}: variant must be one of em, ems, static (or none for MEST), got {flags}")
    kind = VARIANTS[flags[0] if flags else ""]
    try:
        kw = {"every": int(every)} if every else {}
    except ValueError:
        raise ValueError(f"scheme {spec!r}: @every must be an int") from None
    if kind == "static":  # the same sparse init, never mutated: the static-mask baseline
        kind, kw["steps"] = "mest", ((1.0, 0.0),)
    return fmt, Schedule.of(kind, **kw), DataEfficiency() if drop else None


class MestMethod(Method):
    name = "mest"
    suite = bench.SUITE
    title = "MEST: memory-economic sparse training (sparse init, prune/grow mutation, EM, EM&S)"
    own_accuracy_figure = True  # its figures section draws its accuracy runs
    rate_label = "weight sparsity s"
    stages = bench.STAGES
    bench = bench
    claim_measures = claims.MEASURES

    def refusals(self, profile):
        return bench.refusals(profile)

    def tables(self, records):
        """The mask_update cost as a fraction of one MEST training step of the same layer (forward +
        backward + update, timed beside it), and the peak-memory table when there are records."""
        out = []
        rows = [r for r in records if r.get("kind") == "stage" and r["case"].get("suite") == bench.SUITE
                and r["case"].get("stage") == "mask_update" and r["case"].get("impl") == "sparsebench"
                and r["metrics"].get("ratio_to_reference") is not None]
        if rows:
            lines = ["MEST mask_update (one mutation at ratio 0.02: scores, selection, growth, rebuild, remap) as a "
                     "fraction of one training step of the layer",
                     f"{'layer':<16} {'scheme':<13} {'s':>5} {'thr':>3} {'units':>7} {'weights':>8} {'ms':>8} {'x step':>7}"]
            for r in sorted(rows, key=lambda r: (r["case"]["layer"], r["case"]["scheme"], r["case"]["sparsity"])):
                c, m = r["case"], r["metrics"]
                lines.append(f"{c['layer']:<16} {c['scheme']:<13} {c['sparsity']:>5.2f} {c['threads']:>3} "
                             f"{m.get('units_mutated', 0):>7} {m.get('weights_mutated', 0):>8} "
                             f"{1e3 * m['median_s']:>8.2f} {m['ratio_to_reference']:>7.2f}")
            out.append("\n".join(lines))
        if any(r.get("kind") == claims.MEMORY_KIND for r in records):
            out.append(claims.memory_table(records))
        from .experiment import summarize, table_text

        acc = [r for r in records if r.get("kind") == "accuracy" and r["case"].get("method") in ("mest", "dense")]
        if any(r["case"]["method"] == "mest" for r in acc):
            out.append("MEST accuracy over seeds (dense: the unconverted model; '+static': MEST's sparse init never "
                       "mutated; '+drop': two-phase data-efficient run, compare train_s with the run without it)\n"
                       + table_text(summarize(acc)))
        return out

    def figures(self, records, out):
        from .figures import accuracy_figures

        return accuracy_figures(records, out)

    # --- accuracy runs -------------------------------------------------------------------------
    def accuracy_cases(self, dataset, quick):
        if quick:  # the CI grid: one soft-memory-bound run on the finest scheme
            return [("unstructured+ems@2", 0.9)]
        return [(f"{fmt}+{v}@2".replace("+@", "@"), s) for fmt in SCHEMES for v in ("", "em", "ems")
                for s in (0.5, 0.8, 0.9, 0.95) if get_format(fmt).min_sparsity <= s]

    def apply(self, model, scheme, sparsity, *, seed=0, generator=None):
        """Every nn.Conv2d / nn.Linear replaced by a sparse twin built directly in the compressed
        format at random (the dense weights are not read); a layer the format cannot hold (pattern:
        linear or non-3x3) takes the unstructured scheme, and so does the network's last layer
        under the filter scheme: removing its output rows would remove classes, not filters.
        Biases are copied."""
        fmt, _, _ = parse_spec(scheme)
        s = check_target(sparsity)
        layers = []  # (parent, attribute, layer) in definition order, as before this conversion

        def walk(parent):
            for name, child in parent.named_children():
                if isinstance(child, (nn.Conv2d, nn.Linear)):
                    layers.append((parent, name, child))
                else:
                    walk(child)

        walk(model)
        for index, (parent, name, child) in enumerate(layers):
            kind = "unstructured" if fmt == "filter" and index == len(layers) - 1 else fmt
            setattr(parent, name, self._sparse_twin(child, kind, s, seed, index))
        return model

    @staticmethod
    def _sparse_twin(module, fmt, s, seed, index, threads=0):
        shape = tuple(module.weight.shape)
        kind = fmt if get_format(fmt).accepts(shape, s) else "unstructured"
        sw = random_sparse_weight(shape, kind, s, seed=seed, layer=index)
        bias = module.bias is not None
        if isinstance(module, nn.Conv2d):
            twin = SparseConv2d.from_sparse(sw, module.stride[0], module.padding[0], bias=bias, threads=threads)
        else:
            twin = SparseLinear.from_sparse(sw, bias=bias, threads=threads)
        if bias:
            twin.bias.data.copy_(module.bias.detach())
        return twin

    def claim_runs(self, claim, profile_name, out, progress=None):
        """The memory claim: the peak-memory sweep (fresh processes); the accuracy claim: MEST and
        its static baseline on digits at the claim's sparsity, 2 seeds (quick: 6 epochs)."""
        from pathlib import Path

        comp = claim.measure.comparison
        if comp == "mest_peak_memory":
            claims.run_memory(Path(out), model="mlp", sparsities=(0.5, 0.8, 0.9, 0.95))
        elif comp == "mest_vs_static":
            from ...accuracy import runs
            from .experiment import accuracy_grid

            epochs = 6 if profile_name in ("smoke", "quick") else 12
            cases = accuracy_grid("digits", list(claim.measure.schemes or ("unstructured",)), ["ems"],
                                  [claim.measure.sparsity or 0.9], [0, 1], epochs, 2)
            runs.run_accuracy([c for c in cases if c.method == self.name], Path(out), progress=progress)

    def train_hooks(self, model, optimizer, case, n_examples):
        _, schedule, data = parse_spec(case.scheme)
        return MestTrainer(model, optimizer, schedule, case.epochs, n_examples, seed=case.seed, data=data)

    def training_stats(self, model):
        return {"density": [l.sw.density for l in sparse_layers(model)],
                "scheme": [l.sw.scheme for l in sparse_layers(model)]}

    # --- whole-network training ----------------------------------------------------------------
    dense_first = True
    dense_last = True
    train_stages = ("forward", "backward_data", "weight_grad_sampled", "update", "mask_update")

    def train_schemes(self):
        return tuple(f"mest-{s}" for s in SCHEMES)

    def layer_refuses(self, module, scheme, sparsity):
        fmt = scheme.removeprefix("mest-")
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or tuple(module.dilation) != (1, 1) or isinstance(module.padding, str):
                return "groups / dilation / string padding: the formats hold plain convolutions"
            if module.kernel_size[0] != module.kernel_size[1] or module.stride[0] != module.stride[1]:
                return "non-square kernel or stride"
        elif not isinstance(module, nn.Linear):
            return f"{type(module).__name__} is not a conv / linear layer"
        if fmt not in SCHEMES:
            return f"unknown MEST scheme {scheme!r}"
        return get_format(fmt).refuses(tuple(module.weight.shape), sparsity)

    def convert_layer(self, module, scheme, sparsity, *, seed, index, threads, generator):
        return self._sparse_twin(module, scheme.removeprefix("mest-"), sparsity, seed, index, threads)

    def mask_update(self, model, optimizer, generator):
        from .mutate import mutate
        from .train import units_for_ratio
        from .units import stored_units

        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # a mutation installs a new values parameter; DDP would go on reducing the old one
            raise NotImplementedError("MEST mask updates under DistributedDataParallel are not supported yet "
                                      "(train MEST on one rank, or without --mask-update-every)")
        # a fresh stream per update (the generator advances), identical on every run of the seed
        seed = int(torch.randint(0, 2**62, (1,), generator=generator)) if generator is not None else 0
        changed = 0
        for i, layer in enumerate(sparse_layers(model)):
            u = stored_units(layer.sw)
            kept = int(u.kept.numel())
            m = min(units_for_ratio(0.02, 1.0 - layer.sw.density, kept), u.n_units - kept, kept)
            if m:
                changed += mutate(layer, m, m, optimizer=optimizer, seed=seed + i, threads=layer.threads)["grown"]
        return changed

    def layer_facts(self, module):
        if not isinstance(module, (SparseConv2d, SparseLinear)):
            return {}
        return {"weight_density": module.sw.density, "nnz": module.sw.nnz, "mask_digest": bench.mask_digest(module.sw)}


METHOD = MestMethod()
