"""sparsebench from Python (a notebook, a script): measure layers and get back the records the CLI
writes, as plain dicts.

    from sparsebench import api
    recs = api.measure(shapes=["conv:cin=64,cout=64,k=3,pad=1,hw=56,batch=8"], schemes=["block"],
                       stages=["forward"], sparsities=[0.9])
    print(api.table(recs))
    rows = api.rows(recs)            # the table as dicts (layer, stage, scheme, ..., speedups)
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
