"""The whole-network breakdown as a text table and a stacked bar plot (torch-free, so reports
can draw stored "train" records anywhere). ``infos``: objects (or dicts) with name, geometry,
converted, as in the records' "layers"."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

# column order of tables and plots (sparsebench.stages names, plus "other")
COLUMNS = ("forward", "front_end", "backward_data", "weight_grad", "weight_grad_sampled", "backward", "other",
           "update", "mask_update", "communication")
# short column names of the text table
SHORT = {"forward": "fwd", "front_end": "front", "backward_data": "bwd-data", "weight_grad": "wgrad",
         "weight_grad_sampled": "wgrad@mask", "backward": "bwd(fused)", "other": "bwd-rest"}


def _get(info, key):
    return info[key] if isinstance(info, dict) else getattr(info, key)


def totals(b: dict) -> dict[str, float]:
    """Seconds per step by column: the layers' stages summed, plus the step's own columns."""
    out: dict[str, float] = defaultdict(float)
    for d in b["layers"].values():
        for k, v in d.items():
            out[k if k != "other" else "backward"] += v  # a sparse layer's backward remainder
    for k, v in b["step"].items():
        out["non-layer" if k == "other" else k] += v
    return dict(out)


def _ms(v: float | None) -> str:
    return "-" if not v else f"{v * 1e3:.2f}"


def table(dense: dict, method: dict, infos: list, label: str) -> str:
    """Text table: per layer, dense backward vs the method's stages (ms per step)."""
    cols = [c for c in COLUMNS if c not in ("update", "mask_update", "communication")
            and any(c in d for d in method["layers"].values())]
    head = ["layer", "geometry", "dense fwd", "dense bwd", *[SHORT.get(c, c) for c in cols], "dense/method"]
    rows = []
    for info in infos:
        dd, md = dense["layers"].get(_get(info, "name"), {}), method["layers"].get(_get(info, "name"), {})
        dsum, msum = sum(dd.values()), sum(md.values())
        rows.append([_get(info, "name"), _get(info, "geometry") + ("" if _get(info, "converted") else " (dense)"), _ms(dd.get("forward")),
                     _ms(dd.get("backward")), *[_ms(md.get(c)) for c in cols],
                     f"{dsum / msum:.2f}x" if msum else "-"])
    dt, mt = totals(dense), totals(method)
    keys = [k for k in (*COLUMNS, "non-layer") if k in dt or k in mt]
    summary = ["", f"whole step by stage, ms (dense -> {label}; non-layer: batch norm, activations, pooling, "
                   "loss, residual adds, profiler brackets):",
               "  " + "  ".join(f"{k} {_ms(dt.get(k))} -> {_ms(mt.get(k))}" for k in keys)]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = [f"per layer, ms per step (dense | {label}: {', '.join(SHORT.get(c, c) for c in cols)}):"]
    lines += ["  ".join(str(c).rjust(w) if j else str(c).ljust(w) for j, (c, w) in enumerate(zip(r, widths)))
             for r in [head, *rows]]
    return "\n".join(lines + summary)


def plot(dense: dict, method: dict, infos: list, label: str, title: str, out: Path) -> Path:
    """Stacked bars: per layer (dense | method side by side), and the whole step by stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [_get(i, "name") for i in infos]
    cols = [c for c in COLUMNS if any(c in d for b in (dense, method) for d in b["layers"].values())]
    colors = dict(zip(COLUMNS + ("non-layer",), plt.get_cmap("tab20").colors))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(8, 0.5 * len(names) + 4), 4.5),
                                  gridspec_kw={"width_ratios": [max(len(names), 1), 3]})
    x = range(len(names))
    for off, b, hatch in ((-0.2, dense, ""), (0.2, method, "//")):
        bottom = [0.0] * len(names)
        for c in cols:
            vals = [b["layers"].get(n, {}).get(c, 0.0) * 1e3 for n in names]
            ax.bar([i + off for i in x], vals, 0.38, bottom=bottom, color=colors[c], hatch=hatch,
                   label=c if off < 0 else None, edgecolor="white", linewidth=0.3)
            bottom = [a + v for a, v in zip(bottom, vals)]
    ax.set_xticks(list(x), names, rotation=90, fontsize=6)
    ax.set_ylabel("ms per step (profiled)")
    ax.set_title("per layer: dense (plain) | " + label + " (hatched)", fontsize=8)
    ax.legend(fontsize=6)
    for i, b in enumerate((dense, method)):
        t = totals(b)
        bottom = 0.0
        for c in [*COLUMNS, "non-layer"]:
            v = t.get(c, 0.0) * 1e3
            if v:
                ax2.bar(i, v, 0.6, bottom=bottom, color=colors[c], label=c if i == 0 or c not in totals(dense) else None)
                bottom += v
    ax2.set_xticks([0, 1], ["dense", label])
    ax2.set_title("whole step by stage", fontsize=8)
    ax2.set_ylabel("ms per step (profiled)")
    ax2.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
