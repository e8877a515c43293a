"""Tables for READMEs and reports: one way to write a markdown table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_RULE = {"l": "---", "r": "---:", "c": ":---:"}


def markdown(
    header: Sequence[object], rows: Iterable[Sequence[object]], align: str | None = None
) -> str:
    """A GitHub-flavoured markdown table.

    ``align`` has one letter per column: ``l`` (default), ``r`` or ``c``. Pipes in cells are
    escaped and newlines become ``<br>``, so a cell can never break the table; a row of the
    wrong length is an error rather than a shifted column.
    """
    width = len(header)
    align = align or "l" * width
    if len(align) != width or set(align) - set(_RULE):
        raise ValueError(f"align {align!r} must be {width} letters of l, r, c")

    def line(cells: Sequence[object]) -> str:
        if len(cells) != width:
            raise ValueError(f"row has {len(cells)} cells, the header {width}: {list(cells)!r}")
        text = (str(c).replace("|", "\\|").replace("\n", "<br>") for c in cells)
        return "| " + " | ".join(text) + " |"

    rule = "|" + "".join(_RULE[a] + "|" for a in align)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
