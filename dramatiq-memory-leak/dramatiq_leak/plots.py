"""Figures: RSS over time per variant (full collections marked), one figure per scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dramatiq_leak import harness
from lab.plotting import HIGHLIGHT, MUTED, plt, save

VARIANT_COLOURS = {
    "2.2.0": MUTED[0],
    "2.2.1": MUTED[3],
    "2.2.0+fix": HIGHLIGHT,
    "2.2.0+gc": MUTED[2],
}


def rss_figure(
    scenario_label: str,
    cells: list[tuple[str, dict[str, Any], dict[str, Any]]],
    path: Path,
    cap_mb: float | None = None,
) -> Path:
    """``cells``: (variant label, series from analysis.series, summary from analysis.analyse)."""
    n = max(1, len(cells))
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.9 * n + 0.8), sharex=True, sharey=True)
    axes = [axes] if n == 1 else list(axes)
    ymax = max((max(s["rss_mb"], default=0) for _, s, _ in cells), default=100)
    for ax, (label, s, summary) in zip(axes, cells, strict=False):
        colour = VARIANT_COLOURS.get(summary["variant"], MUTED[4])
        ax.plot(s["t"], s["rss_mb"], color=colour, lw=1.1)
        young = [t for t in s.get("young_gc_t", []) if t >= 0]
        if young:
            ax.plot(young, [ymax * 0.98] * len(young), "|", color="grey", ms=5)
        full = [t for t in s["full_gc_t"] if t >= 0]
        if full:
            ax.plot(full, [ymax * 1.04] * len(full), "|", color="black", ms=7)
        for t_drop, from_mb, gen in summary.get("bulk_drop_marks", []):
            ax.annotate(
                f"gen {gen}" if gen >= 0 else "no GC",
                (t_drop, from_mb),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color="black",
            )
        drops = summary.get("bulk_drops", 0)
        text = (
            f"peak {summary['peak_mb']:.0f} MB, final {summary['final_mb']:.0f} MB, "
            f"{summary['attempts']} attempts, bulk drops {drops}; "
            f"GC runs: {len(full)} full (black), {len(young)} young that freed (grey)"
        )
        if summary.get("capped"):
            text += f"  STOPPED AT MEMORY CAP ({summary['capped']['rss_mb']:.0f} MB)"
        if summary.get("crashed"):
            text += f"  WORKER CRASHED ({harness.describe_crash(summary['crashed'])})"
        ax.set_title(f"{label}: {text}", fontsize=9, loc="left")
        ax.set_ylabel("RSS (MB)")
        if cap_mb is not None and ymax > 0.5 * cap_mb:
            ax.axhline(cap_mb, color="grey", ls=":", lw=1)
    axes[-1].set_xlabel(
        "seconds since the worker booted  (labels: generation of the GC run at each bulk drop)"
    )
    axes[0].set_ylim(0, ymax * 1.12)
    fig.suptitle(scenario_label, fontsize=11)
    return save(fig, path)


def peaks_figure(rows: list[dict[str, Any]], scenarios: list[str], path: Path) -> Path:
    """Peak RSS per scenario x variant (grouped bars)."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    width = 0.8 / max(1, len(variants))
    for j, v in enumerate(variants):
        xs, ys = [], []
        for i, sc in enumerate(scenarios):
            row = next((r for r in rows if r["scenario"] == sc and r["variant"] == v), None)
            if row and row["peak_mb"] is not None:
                xs.append(i + (j - (len(variants) - 1) / 2) * width)
                ys.append(row["peak_mb"])
        ax.bar(xs, ys, width=width, label=v, color=VARIANT_COLOURS.get(v, MUTED[4]))
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_ylabel("peak worker RSS (MB)")
    ax.set_yscale("log")
    ax.legend(fontsize=8, frameon=False, ncol=len(variants))
    ax.set_title("Peak RSS per scenario and variant (log scale)", fontsize=10, loc="left")
    return save(fig, path)
