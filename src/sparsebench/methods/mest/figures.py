"""MEST's report figure: accuracy vs sparsity per format, one line per variant (MEST, +EM, +EM&S,
the static mask on the same sparse init), mean over seeds with bars from the lowest to the
highest seed, the dense model as a band."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .init import SCHEMES

VARIANTS = ("mest", "em", "ems", "static", "ems+drop")  # drawn in this order
STYLE = {"mest": ("tab:blue", "o-"), "em": ("tab:orange", "s-"), "ems": ("tab:green", "^-"),
         "static": ("0.3", "x--"), "ems+drop": ("tab:purple", "v:")}


def variant_of(scheme: str) -> tuple[str, str]:
    """'block+ems@2' -> ('block', 'ems'); 'unstructured@2' -> ('unstructured', 'mest')."""
    fmt, _, rest = scheme.split("@")[0].partition("+")
    return fmt, rest or "mest"


def accuracy_figures(records: list, out: Path) -> list[tuple[str, str]]:
    from matplotlib.figure import Figure

    from ...reports.data import accuracy_summary

    rows = accuracy_summary(r for r in records if r.get("kind") == "accuracy"
                            and r["case"].get("method") in ("mest", "dense"))
    made = []
    for dataset in sorted({r["dataset"] for r in rows if r["method"] == "mest"}):
        mine = [r for r in rows if r["dataset"] == dataset]
        dense = [r for r in mine if r["method"] == "dense"]
        lines: dict = defaultdict(lambda: defaultdict(list))  # format -> variant -> rows
        for r in mine:
            if r["method"] == "mest":
                fmt, variant = variant_of(r["scheme"])
                lines[fmt][variant].append(r)
        fmts = [f for f in SCHEMES if f in lines]
        fig = Figure(figsize=(4.0 * len(fmts) + 0.6, 4.0))
        for i, fmt in enumerate(fmts):
            ax = fig.add_subplot(1, len(fmts), i + 1)
            for d in dense[:1]:
                ax.axhspan(d["min"], d["max"], color="0.88", zorder=0)
                ax.axhline(d["mean"], color="0.45", lw=1, label=f"dense ({len(d['seeds'])} seeds)")
            variants = [v for v in VARIANTS if v in lines[fmt]] + sorted(set(lines[fmt]) - set(VARIANTS))
            for k, variant in enumerate(variants):
                pts = sorted(lines[fmt][variant], key=lambda r: r["sparsity"])
                color, style = STYLE.get(variant, ("tab:red", "d-"))
                dodge = (k - (len(variants) - 1) / 2) * 0.004  # variants side by side, bars apart
                ax.errorbar([r["sparsity"] + dodge for r in pts], [r["mean"] for r in pts], capsize=2, ms=4, lw=1,
                            yerr=[[r["mean"] - r["min"] for r in pts], [r["max"] - r["mean"] for r in pts]],
                            fmt=style, color=color,
                            label=f"{variant} ({max(len(r['seeds']) for r in pts)} seeds)")
            ax.set_xticks(sorted({r["sparsity"] for v in lines[fmt].values() for r in v}))  # not the dodged x
            ax.set_title(fmt, fontsize=9)
            ax.set_xlabel("weight sparsity", fontsize=8)
            ax.set_ylabel("test accuracy", fontsize=8)
            ax.set_ylim(max(0.0, min(r["min"] for r in mine) - 0.05), 1.0)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=6, loc="lower left")
        machines = sorted({(r.get("machine") or {}).get("id", "?") for r in records if r.get("kind") == "accuracy"})
        fig.suptitle(f"MEST on {dataset}: accuracy vs sparsity per format and variant (mean, lowest-highest seed); "
                     f"static = the same sparse init, never mutated\n{', '.join(machines)}", fontsize=9)
        fig.subplots_adjust(left=0.06, right=0.98, top=0.82, bottom=0.13, wspace=0.3)
        name = f"mest-accuracy-{dataset}.png"
        fig.savefig(Path(out) / name, dpi=100)
        made.append((name, f"MEST accuracy on {dataset} per format: MEST, MEST+EM, MEST+EM&S and the static mask, "
                           "dense as a band."))
    return made
