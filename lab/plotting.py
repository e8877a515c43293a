"""One plotting style for every experiment's figures (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler

#: Colour for "our" engine/tool in every chart; others get the muted cycle.
HIGHLIGHT = "#d1495b"
MUTED = ["#30638e", "#00798c", "#edae49", "#66a182", "#8d96a3", "#003d5b", "#b07aa1", "#9c755f"]


def style() -> None:
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": cycler(color=MUTED),
            "font.size": 10,
        }
    )


def save(fig: Figure, path: str | Path) -> Path:
    """Save and close a figure; returns the path (register it with ``ctx.artifact``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


style()
