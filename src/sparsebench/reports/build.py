"""`sparsebench report`: one folder reports/<name>/ with index.md, index.html and PNG figures."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from .. import claims as claims_mod
from . import plots
from .data import groups, latest, load_paths, machines, well_formed
from ..harness.table import NOTE, table_rows
from .page import VERDICT_HEADERS, Page, to_html, to_markdown, verdict_rows

FIGURES = (
    ("Speedup vs sparsity", plots.speedup_vs_sparsity),
    ("Time per stage", plots.time_breakdown),
    ("Memory", plots.memory_vs_sparsity),
    ("Efficiency", plots.efficiency_vs_sparsity),
)


def default_name(machine_ids, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    ids = sorted(machine_ids)
    who = ids[0] if len(ids) == 1 else (f"{len(ids)}-machines" if ids else "no-machine")
    return f"{who}-{stamp}"


def build_report(paths, out_root="reports", name: str | None = None, claims_path=None,
                 compare_with=None) -> Path:
    """Read records (bad files are listed on the page, never fatal), draw, write the page."""
    raw, bad = load_paths(paths)
    records, dropped = well_formed(raw)
    stage = latest(records)
    infos = machines(records)
    out = Path(out_root) / (name or default_name(infos))
    out.mkdir(parents=True, exist_ok=True)

    page = Page(f"sparsebench report: {', '.join(sorted(infos)) or 'no measurements'}")
    page.p(f"Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')} from "
           f"{', '.join(map(str, paths))}: {len(stage)} stage records, {len(records) - len(stage)} other records. "
           "Speedup = torch-dense median (the faster of NCHW and channels_last unless the run chose a layout) / "
           "sparsebench median, timed interleaved in one process; compare "
           "ratios within a run, not absolute times across runs.")
    if bad or dropped:
        page.h2("Skipped input")
        page.items([f"{p}: {msg}" for p, msg in bad] + ([f"{dropped} partial record(s) without the fields a "
                                                         "report needs"] if dropped else []))
    page.h2("Machines")
    page.table(("machine", "cpu", "arch", "ISA", "torch", "commit", "threads"), name="machines", rows=
               [(m, i["cpu"], i["arch"], "/".join(sorted(i["isa"])), "/".join(sorted(i["torch"])),
                 "/".join(sorted(i["commit"])), ",".join(map(str, sorted(i["threads"])))) for m, i in sorted(infos.items())])

    _claims_section(page, records, infos, claims_path)
    _layout_section(page, stage)

    for title, fn in FIGURES:
        page.h2(title)
        made = []
        for machine, threads in groups(stage):
            made += fn(stage, machine, infos[machine], threads, out)
        _figures(page, made, "no stage records with the data for this figure")

    page.h2("Roofline")
    made = []
    for machine, threads in groups(stage):
        made += plots.roofline(stage, records, machine, infos[machine], threads, out)
    _figures(page, made, "no stage records with FLOPs and tensor bytes")

    page.h2("Whole-network training steps")
    _network_table(page, records)
    _figures(page, plots.network_speedup(records, out) + plots.network_breakdowns(records, out),
             "no whole-network records yet (kind 'train': sparsebench train, or validate)")

    page.h2("Accuracy")
    acc = [r for r in records if r.get("kind") == "accuracy"]
    _accuracy_table(page, acc)
    _figures(page, plots.accuracy(acc, out),
             "no accuracy records yet (kind 'accuracy'): the accuracy-vs-sparsity and loss-curve figures are skipped")

    _methods_section(page, records, out)

    page.h2("Machines compared")
    _figures(page, plots.machine_comparison(stage, infos, out),
             "one machine only: copy another machine's results/<machine-id>/ folder next to these to compare")

    _speedup_section(page, stage)
    if compare_with is not None:
        _compare_section(page, compare_with, records, out)

    for csv_name, text in page.csv_files().items():
        (out / csv_name).write_text(text, encoding="utf-8")
    (out / "index.md").write_text(to_markdown(page), encoding="utf-8")
    (out / "index.html").write_text(to_html(page), encoding="utf-8")
    return out


def _accuracy_table(page: Page, acc: list[dict]) -> None:
    """Every training run over its seeds (as accuracy.csv): the spread, and the difference to the
    dense model at the same seeds."""
    from .data import accuracy_summary

    rows = accuracy_summary(acc)
    if not rows:
        return
    page.p("Test accuracy per run over its seeds: mean, lowest and highest seed; 'vs dense' is the mean over the "
           "seeds both ran of (run - dense model of the same data set and epoch budget), in points.")
    page.table(("dataset", "method", "scheme", "sparsity", "epochs", "seeds", "mean", "min", "max", "vs dense (pts)"),
               [(r["dataset"], r["method"], r["scheme"], f"{r['sparsity']:g}", r["epochs"] or "-", len(r["seeds"]),
                 f"{r['mean']:.4f}", f"{r['min']:.4f}", f"{r['max']:.4f}",
                 "-" if r["vs_dense_pts"] is None else f"{r['vs_dense_pts']:+.2f} ({r['paired_seeds']} seeds)")
                for r in rows], name="accuracy")


def _methods_section(page: Page, records: list[dict], out: Path) -> None:
    """Each method's own tables and figures (Method.tables / Method.figures), under its title; a
    method with nothing to show is left out, one that fails is named with its error."""
    try:
        from ..methods import all_methods

        methods = list(all_methods().values())
    except Exception as exc:  # noqa: BLE001 - the rest of the report still stands
        page.h2("Methods")
        page.p(f"Method sections skipped: {type(exc).__name__}: {exc}")
        return
    for m in methods:
        try:
            tables, made = m.tables(records), m.figures(records, out)
        except Exception as exc:  # noqa: BLE001
            page.h2(f"Method: {m.title or m.name}")
            page.p(f"{m.name}: its section failed: {type(exc).__name__}: {exc}")
            continue
        if not tables and not made:
            continue
        page.h2(f"Method: {m.title or m.name}")
        for text in tables:
            page.pre(text)
        for name, cap in made:
            page.image(name, cap)


def _speedup_section(page: Page, stage: list[dict]) -> None:
    """The speedup table of `sparsebench table`, every row and column (also as speedups.csv)."""
    page.h2("Speedup table")
    rows = table_rows(stage)
    if not rows:
        page.p("No stage records.")
        return
    columns = list(dict.fromkeys(k for r in rows for k in r))
    page.p(NOTE)
    page.table(columns, [[_text(r.get(k)) for k in columns] for r in rows], name="speedups")


def _text(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _compare_section(page: Page, old_paths, records, out: Path) -> None:
    """A vs B: these records (B) against an older or other machine's set (A)."""
    from ..harness.compare import compare

    old_raw, bad = load_paths(old_paths)
    old, _ = well_formed(old_raw)
    page.h2("Compared with " + ", ".join(map(str, old_paths)))
    if bad:
        page.items([f"skipped {p}: {msg}" for p, msg in bad])
    cmp = compare(old, records, by="speedup")
    page.p(f"Per case, old speedup / new speedup over each run's own torch-dense timing (> 1: worse), threshold "
           f"{cmp.threshold:g}: {len(cmp.regressions)} regressions, {len(cmp.improvements)} improvements; "
           f"{len(cmp.only_old)} cases only in A, {len(cmp.only_new)} only in B.")
    page.table(("case", "impl", "A speedup", "B speedup", "A/B", "flag", "A machine", "B machine"),
               [(r.case, r.impl, f"{r.old:.3g}", f"{r.new:.3g}", f"{r.ratio:.3f}", r.flag(cmp.threshold) or "-",
                 r.old_machine, r.new_machine) for r in cmp.rows], name="compare")
    made = plots.compare_ratios(cmp, out)
    _figures(page, made, "no case in both record sets")


def _layout_section(page: Page, stage: list[dict]) -> None:
    """Which torch-dense layout won per layer x stage (median over the cases that timed both)."""
    from statistics import median

    times: dict = {}
    for r in stage:
        c, m = r["case"], r["metrics"]
        if c["impl"] in ("torch-dense", "torch-dense-channels_last") and m.get("median_s"):
            key = (r["machine"]["id"], c["suite"], c["layer"], c["stage"], c["threads"])
            times.setdefault(key, {}).setdefault(c["impl"], []).append(m["median_s"])
    rows = []
    for key in sorted(times):
        t = times[key]
        if "torch-dense" in t and "torch-dense-channels_last" in t:
            nc, cl = median(t["torch-dense"]), median(t["torch-dense-channels_last"])
            rows.append((*key, f"{nc * 1e3:.3f}", f"{cl * 1e3:.3f}", "channels_last" if cl < nc else "NCHW",
                         f"{nc / cl:.2f}"))
    page.h2("Dense baseline: layout per case")
    if not rows:
        page.p("No case timed torch-dense in both layouts (records from before channels_last was timed).")
        return
    page.p("Every conv stage times torch-dense on NCHW and on channels_last tensors (conversion outside timing); "
           "speedups are against the faster one unless `--baseline-layout` says otherwise. Times: median over the "
           "cases of that layer and stage, one process run each.")
    page.table(("machine", "suite", "layer", "stage", "threads", "NCHW ms", "channels_last ms", "winner",
                "NCHW / channels_last"), rows, name="layouts")


def _network_table(page: Page, records) -> None:
    rows = []
    for r in sorted(plots._latest_train(records), key=lambda r: r["case"]["id"]):
        c, m = r["case"], r["metrics"]
        rows.append((r["machine"].get("id"), c["model"], c["scheme"], f"{c['sparsity']:g}", c["threads"],
                     c.get("world_size", 1), f"{m['dense']['median_s'] * 1e3:.1f}", f"{m['method']['median_s'] * 1e3:.1f}",
                     f"{m['speedup']:.2f}x", f"{m.get('converted', '?')} / {m.get('dense_layers', '?')}"))
    if rows:
        page.table(("machine", "model", "scheme", "s / p", "threads", "ranks", "dense ms", "method ms", "speedup",
                    "layers converted / dense"), rows)


def _figures(page: Page, made, empty_note: str) -> None:
    if not made:
        page.p(f"Figure skipped: {empty_note}.")
    for name, cap in made:
        page.image(name, cap)


def _claims_section(page: Page, records, infos, claims_path) -> None:
    page.h2("Claims: paper vs this machine")
    try:
        claims = claims_mod.load_claims(claims_path)
    except (OSError, ValueError, RuntimeError) as exc:
        page.p(f"Claims table skipped: {exc}")
        return
    page.p("Verdicts: reproduced (measured >= claimed, or within a tolerance the claim itself states), partly, "
           "not reproduced, different setup (measured, but the setup differs materially, stand-ins included: see "
           "the note), not measured (the method is not implemented, or nothing was measured). Each claim is "
           "quoted in its source's words; every fallback is written in the note.")
    for machine in sorted(infos) or [None]:
        mine = [r for r in records if (r.get("machine") or {}).get("id") == machine]
        if machine:
            page.p(f"On {machine}:")
        page.table(VERDICT_HEADERS, verdict_rows(claims_mod.evaluate_all(claims, mine)), name="claims")
