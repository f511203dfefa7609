"""sparsebench from Python (a notebook, a script): measure layers and get back the records the CLI
writes, as plain dicts.

    from sparsebench import api
    recs = api.measure(shapes=["conv:cin=64,cout=64,k=3,pad=1,hw=56,batch=8"], schemes=["block"],
                       stages=["forward"], sparsities=[0.9])
    print(api.table(recs))
    rows = api.rows(recs)            # the table as dicts (layer, stage, scheme, ..., speedups)

A model's layers (an nn.Module, a zoo name or "package.module:factory") as --shape specs, and
a whole model's training step (the "train" record `sparsebench train` writes):

    recs = api.measure(shapes=api.model_shapes(my_model, (3, 32, 32), batch=8), stages=["forward"])
    rec = api.train("examples.mynet:small", method="unstructured", input_shape=(1, 28, 28), steps=5)
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Iterable

from . import catalogue, methods, shapes
from .cases import BenchCase


def cases(*, profile: str | None = None, layers: Iterable[str] = (), shapes_: Iterable[str] = (),
          suites: Iterable[str] = (), schemes: Iterable[str] = (), stages: Iterable[str] = (),
          sparsities: Iterable[float] = (), threads: Iterable[int] = ()) -> list[BenchCase]:
    """The benchmark cases a run with these selections covers (empty selection: the profile's)."""
    prof = catalogue.profile(profile)
    own = [shapes.parse(s).name for s in shapes_]
    picked = [*layers, *own]
    if picked:
        prof = dataclasses.replace(prof, layers=tuple(dict.fromkeys(picked)))
    if sparsities:
        prof = dataclasses.replace(prof, sparsities=tuple(sparsities))
    if threads:
        prof = dataclasses.replace(prof, threads=tuple(threads))
    out = methods.cases(prof, tuple(suites) or None)
    return [c for c in out if (not schemes or c.scheme in schemes) and (not stages or c.stage in stages)]


def measure(*, out: str | Path | None = None, rounds: int = 7, peers: bool = False, profile: str | None = None,
            shapes: Iterable[str] = (), **selection) -> list[dict]:
    """Measure the selected cases (see ``cases``; ``shapes`` are --shape specs) and return their
    records; ``out`` keeps the records file (default: a temporary one, removed afterwards)."""
    from .harness import run_cases
    from .measure import load_records

    selected = cases(profile=profile, shapes_=shapes, **selection)
    if not selected:
        raise ValueError("no case matches the selection")
    if out is not None:
        return load_records(run_cases(selected, out=Path(out), rounds=rounds, peers=peers))
    with tempfile.TemporaryDirectory(prefix="sparsebench-") as tmp:
        return load_records(run_cases(selected, out=Path(tmp) / "records.json", rounds=rounds, peers=peers))


def table(records: Iterable[dict], fmt: str = "text") -> str:
    """The speedup table of ``sparsebench table`` (fmt: text, md, csv or json)."""
    from .harness.table import render

    return render(list(records), fmt)


def rows(records: Iterable[dict]) -> list[dict]:
    """The speedup table as one dict per row (the columns of ``sparsebench table --format csv``)."""
    from .harness.table import table_rows

    return table_rows(list(records))


def model_shapes(model, input_shape=None, batch: int | None = None, runnable: bool = True) -> list[str]:
    """The distinct conv / linear --shape specs of ``model`` (an nn.Module, a zoo name or a
    ``package.module:factory`` spec), largest share of the dense forward FLOPs first;
    ``runnable``: only those some scheme runs (depthwise and the like left out)."""
    from torch import nn

    from . import models
    from .models.layer_shapes import layer_shapes, unique
    from .models.user import DEFAULT_BATCH, parse_input_shape

    if isinstance(model, nn.Module):
        if input_shape is None:
            raise ValueError("input_shape (C, H, W) is required for an nn.Module")
        shape, bs = parse_input_shape(input_shape), batch or DEFAULT_BATCH
    else:
        net = models.network(model, input_shape)
        model, shape, bs = models.build(model), net.input, batch or net.batch
    return [spec for spec, _, _, refused in unique(layer_shapes(model, shape, bs)) if not (runnable and refused)]


def train(model: str, method: str, *, input_shape=None, out: str | Path | None = None, **config) -> dict:
    """One `sparsebench train` run (a zoo name or ``package.module:factory``; ``config``: the
    other TrainConfig fields, e.g. sparsity, steps, threads, data) and its "train" record,
    also appended to ``out`` when given."""
    from .measure import load_records
    from .train.cli import save
    from .train.run import TrainConfig
    from .train.run import train as run_train

    cfg = TrainConfig(model=model, method=method, input_shape=input_shape, **config)
    res = run_train(cfg, progress=False)
    with tempfile.TemporaryDirectory(prefix="sparsebench-") as tmp:
        path = save(res, Path(out) if out is not None else Path(tmp) / "records.json")
        return next(r for r in load_records(path) if r["kind"] == "train" and r["case"]["id"] == res["case"]["id"])
