"""Template sources shared by the template engines' modules, and the whitespace helper.

Templates are written indented for reading; :func:`compact` removes every whitespace run that
contains a newline (indentation between tags), as if the author had written each template on one
line. Output is then byte-comparable in size with the builders' output (the original benchmark's
indented templates produced 368 characters where tagflow produced 287 for the same page).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from html_bench.scenarios import COMPLEX_CSS

_NEWLINE_WS = re.compile(r"\s*\n\s*")


def compact(source: str) -> str:
    return _NEWLINE_WS.sub("", source)


#: scenario -> template name (both tables use one template)
SCENARIO_TEMPLATES = {
    "simple": "simple",
    "complex": "complex",
    "table100": "table",
    "table1000": "table",
    "escaping": "escaping",
}


def keyword_renderers(renders: dict[str, Callable[..., str]]) -> dict[str, Callable]:
    """Bind ``{template name: render(**context)}`` to the scenarios; the complex page gets the
    static stylesheet as ``css`` (emitted unescaped by the template)."""
    out: dict[str, Callable[[dict[str, Any]], str]] = {}
    for scenario, name in SCENARIO_TEMPLATES.items():
        render = renders[name]
        if name == "complex":

            def bound(data: dict[str, Any], _r: Callable[..., str] = render) -> str:
                return _r(css=COMPLEX_CSS, **data)

        else:

            def bound(data: dict[str, Any], _r: Callable[..., str] = render) -> str:
                return _r(**data)

        out[scenario] = bound
    return out
