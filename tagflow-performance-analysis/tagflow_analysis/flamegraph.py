"""Flame graphs (PNG and SVG) drawn with matplotlib from a pyinstrument frame tree.

Each box is a function on the stack; its width is the time sampled in it (children included),
callers below, callees above, coloured by the attribution category of ``attribution``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.plotting import MUTED, plt, save
from tagflow_analysis.attribution import CATEGORIES, walk_frames

COLOURS: dict[str, str] = {
    "closure": "#d1495b",
    "events": "#edae49",
    "ids": "#b07aa1",
    "contextvar": "#00798c",
    "etree": "#66a182",
    "serialize": "#30638e",
    "attrnames": "#9c755f",
    "tagflow": "#f28e2b",
    "rest": MUTED[4],
}


def find_frame(root: Any, file_suffix: str) -> Any:
    """The shallowest frame whose file ends with ``file_suffix`` (breadth first), else root."""
    queue = [root]
    while queue:
        frame = queue.pop(0)
        if (frame.file_path or "").replace("\\", "/").endswith(file_suffix):
            return frame
        queue.extend(frame.children)
    return root


def _label(frame: Any) -> str:
    name = frame.function or "?"
    if frame.is_synthetic:
        return "[self]"
    file = (frame.file_path or "").replace("\\", "/").rsplit("/", 1)[-1]
    return f"{name} ({file})" if file else name


def draw(root: Any, out_stem: Path, title: str, min_share: float = 0.003) -> list[Path]:
    """Draw ``root``'s subtree; writes ``<out_stem>.png`` and ``<out_stem>.svg``."""
    total = root.time
    if total <= 0:
        raise ValueError("empty profile: nothing to draw")
    cats = {id(f): c for f, c in walk_frames(root)}
    boxes: list[tuple[float, int, float, str, str]] = []  # x, depth, width, label, category

    def place(frame: Any, x: float, depth: int) -> int:
        boxes.append((x, depth, frame.time, _label(frame), cats[id(frame)]))
        deepest = depth
        cx = x
        for child in sorted(frame.children, key=lambda c: c.function or ""):
            if child.time / total >= min_share and not child.is_synthetic:
                deepest = max(deepest, place(child, cx, depth + 1))
            cx += child.time
        return deepest

    depth = place(root, 0.0, 0) + 1
    fig, ax = plt.subplots(figsize=(14, 0.32 * depth + 1.6))
    for x, d, w, label, cat in boxes:
        ax.add_patch(
            plt.Rectangle(
                (x / total, d), w / total, 0.92, facecolor=COLOURS[cat], edgecolor="white", lw=0.4
            )
        )
        chars = int(w / total * 190)
        if chars >= 4:
            text = label if len(label) <= chars else label[: max(1, chars - 1)] + "…"
            ax.text(x / total + 0.002, d + 0.46, text, va="center", ha="left", fontsize=6.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, depth)
    ax.set_yticks([])
    ax.set_xlabel("share of sampled time")
    ax.grid(False)
    ax.set_title(title, fontsize=10)
    used = {c for *_, c in boxes}
    handles = [
        plt.Rectangle((0, 0), 1, 1, facecolor=COLOURS[c], label=CATEGORIES[c])
        for c in CATEGORIES
        if c in used
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12 - 0.6 / depth),
        ncol=2,
        fontsize=7,
        frameon=False,
    )
    png = save_both(fig, out_stem)
    return png


def save_both(fig: Any, out_stem: Path) -> list[Path]:
    """Save a figure as PNG and SVG (closing it)."""
    svg = out_stem.with_suffix(".svg")
    svg.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(svg)
    return [save(fig, out_stem.with_suffix(".png")), svg]
