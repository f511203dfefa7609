"""`sparsebench validate`: measure what every implemented claim needs on this machine, then
print and save the verdicts. Records are appended per case by the harness, so an interrupted
validate keeps what it measured (and still writes the verdicts of what it has)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .. import catalogue
from ..cases import BenchCase
from ..reports.page import VERDICT_HEADERS, Page, claimed_cell, text_table, to_markdown, verdict_rows
from .data import Claim
from .evaluate import evaluate_all

MEASURABLE = ("stage_time_sum", "scheme_vs", "flop_reduction", "memory_reduction", "network_step")


def _layers(claim: Claim, prof: catalogue.Profile, profile_name: str) -> list[str]:
    """The claim's layers; the quick profile keeps those it already has (or the first one);
    a claim without layers uses the profile's."""
    wanted = [x for x in claim.measure.layers if x in catalogue.LAYERS]
    if not wanted:
        return list(prof.layers)
    if profile_name == "quick" and not claim.measure.all_layers:
        return [x for x in wanted if x in prof.layers] or wanted[:1]
    return wanted


def cases_for(claim: Claim, profile_name: str = "quick") -> list[BenchCase]:
    """Catalogue cases behind one claim's `measure` spec ([] when it needs none)."""
    from ..methods import all_methods, method_for_suite

    m = claim.measure
    if not claim.implemented or m.comparison not in MEASURABLE:
        return []
    try:
        method = method_for_suite(m.suite)
    except KeyError:
        return []
    prof = catalogue.profile(profile_name)
    threads = (m.threads,) if m.threads else prof.threads
    schemes = [*m.schemes, *([m.versus] if m.versus else [])]
    out = []
    for layer in _layers(claim, prof, profile_name):
        for scheme in schemes:
            for stage in m.stages:
                out += [c for c in (BenchCase(m.suite, layer, scheme, stage, m.sparsity, t) for t in threads)
                        if method.accepts(c)]
        if m.plus_dense_forward:  # the step's dense forward: torch-dense of any method's forward case
            dense = (mt.dense_forward_case(layer, m.sparsity, t) for mt in all_methods().values() for t in threads)
            out += [c for c in dense if c is not None][:len(threads)]
    return out


def network_runs_for(claim: Claim, profile_name: str = "quick") -> list[dict]:
    """Whole-network training runs (sparsebench.train.TrainConfig fields) behind a network_step
    claim: the claim's networks (quick: those in catalogue.QUICK_NETWORKS) at its rate."""
    m = claim.measure
    if not claim.implemented or m.comparison != "network_step":
        return []
    nets = [n for n in m.networks if n in catalogue.NETWORKS] or list(catalogue.QUICK_NETWORKS)
    if profile_name == "quick":
        nets = [n for n in nets if n in catalogue.QUICK_NETWORKS] or nets[:1]
    threads = (m.threads,) if m.threads else catalogue.profile(profile_name).threads
    quick = profile_name == "quick"
    return [{"model": n, "method": claim.method, "scheme": m.schemes[0] if m.schemes else None,
             "sparsity": m.sparsity if m.sparsity is not None else 0.9, "threads": t, "steps": 5 if quick else 10,
             "profile_steps": 1 if quick else 2, "memory": not quick} for n in nets for t in threads]


def curve_cases(profile_name: str = "quick") -> list[BenchCase]:
    """The layer cases of the report's speedup-vs-sparsity curves (catalogue.CURVES)."""
    from ..methods import all_methods

    cv = catalogue.CURVES.get(profile_name)
    if cv is None:
        return []
    prof = catalogue.Profile(f"{profile_name}-curves", cv.layers, cv.sparsities, (1,))
    return [c for m in all_methods().values() for c in m.cases(prof) if c.stage in cv.stages]


def curve_runs(profile_name: str = "quick") -> list[dict]:
    """The whole-network line of the curves: every method's first training scheme on the curve
    network at each curve sparsity (1 thread, a few steps, no memory children)."""
    from ..methods import all_methods

    cv = catalogue.CURVES.get(profile_name)
    if cv is None:
        return []
    return [{"model": cv.network, "method": s, "sparsity": x, "threads": 1, "steps": cv.network_steps,
             "warmup": 1, "profile_steps": 1, "memory": False}
            for m in all_methods().values() for s in m.train_schemes()[:1] for x in cv.sparsities]


def run_networks(runs: list[dict], path: Path, progress: Callable | None = None) -> None:
    """Each run once (duplicates dropped), its "train" record appended to ``path``."""
    from ..train.cli import save
    from ..train.run import TrainConfig, train

    seen: dict[str, dict] = {}
    for r in runs:
        seen.setdefault(repr(sorted(r.items())), r)
    for i, r in enumerate(seen.values()):
        if progress:
            progress(i, len(seen), _Label(f"train/{r['model']}/{r['method']}/s{r['sparsity']:g}"))
        try:
            save(train(TrainConfig(**r), progress=False), path)
        except Exception as exc:  # a failing run is a finding, not the end of validate
            print(f"error in train run {r}: {type(exc).__name__}: {exc}")


class _Label:
    def __init__(self, text: str) -> None:
        self.id = text


def accuracy_cases_for(claim: Claim, profile_name: str = "quick") -> list:
    """Training runs behind an accuracy claim: the method at the claim's rate and the dense model
    (the baseline: a method's own rate 0 is not always dense, e.g. SWAT's activation top-K)."""
    from ..accuracy.runs import DENSE, AccuracyCase
    from ..methods import all_methods

    m = claim.measure
    method = all_methods().get(claim.method)
    if not claim.implemented or m.comparison != "accuracy_delta" or method is None:
        return []
    schemes = list(m.schemes) or [s for s, _ in method.accuracy_cases("digits", True)][:1]
    epochs = 12 if profile_name == "quick" else 30
    return [AccuracyCase(DENSE, DENSE, 0.0, "digits", epochs=epochs),
            *(AccuracyCase(method.name, scheme, m.sparsity or 0.0, "digits", epochs=epochs) for scheme in schemes)]


def select(claims: list[Claim], profile_name: str = "quick") -> list[BenchCase]:
    """Every case the claims need, once, in claim order."""
    seen: dict[str, BenchCase] = {}
    for claim in claims:
        for case in cases_for(claim, profile_name):
            seen.setdefault(case.id, case)
    return list(seen.values())


def verdict_page(verdicts, title: str, source: str) -> Page:
    page = Page(title)
    page.p(f"Records: {source}")
    page.table(VERDICT_HEADERS, verdict_rows(verdicts))
    return page


def validate(claims: list[Claim], *, profile_name: str, results_dir: Path, rounds: int = 7,
             progress: Callable | None = None, out: Path | None = None) -> tuple[Path | None, list]:
    """Run the cases, evaluate the claims on this run's records, save <results file>-verdicts.md.
    Returns (records file, verdicts); re-raises KeyboardInterrupt after saving what it has."""
    from ..harness import run_cases  # lazy: imports torch and the compiled kernels
    from ..measure import load_records

    from ..accuracy.runs import run_accuracy
    from ..measure import default_results_path, machine_record

    cases = select(claims, profile_name)
    known = {c.id for c in cases}
    if len(claims) > 1:  # a single --claim: its own cases only (as for the networks below)
        cases += [c for c in curve_cases(profile_name) if c.id not in known]
    networks = [r for claim in claims for r in network_runs_for(claim, profile_name)]
    networks += curve_runs(profile_name) if len(claims) > 1 else []  # a single --claim: its runs only
    training = {c.id: c for claim in claims for c in accuracy_cases_for(claim, profile_name)}
    from ..methods import all_methods

    own = [(all_methods()[c.method], c) for c in claims if c.implemented and c.method in all_methods()]
    # named up front, so an interrupted run still knows where its records are
    path = out or default_results_path(results_dir, machine_record())
    interrupted = None
    try:
        if cases:
            run_cases(cases, results_dir=results_dir, out=path, rounds=rounds, progress=progress)
        if networks:
            run_networks(networks, path, progress=progress)
        if training:
            run_accuracy(training.values(), path, progress=progress)
        for method, claim in own:  # a method's own measurements (Method.claim_runs)
            method.claim_runs(claim, profile_name, path, progress)
    except KeyboardInterrupt as exc:
        interrupted = exc
    records = load_records(path) if path is not None and path.exists() else []
    verdicts = evaluate_all(claims, records)
    if path is not None:
        md = path.with_name(path.stem + "-verdicts.md")
        title = "sparsebench validate: claims vs this machine" + (" (interrupted)" if interrupted else "")
        md.write_text(to_markdown(verdict_page(verdicts, title, str(path))), encoding="utf-8")
    if interrupted is not None:
        raise interrupted
    return path, verdicts


def verdict_text(verdicts) -> str:
    return text_table(("claim", "claimed", "measured", "verdict", "note"),
                      [(v.claim_id, claimed_cell(v), v.measured, v.verdict, v.note or "-") for v in verdicts])
