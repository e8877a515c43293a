"""The engine this package registers with html_bench (entry point ``html_bench.engines``).

Kept apart from the rest of the package so that loading the registration imports nothing but
html_bench: a benchmark worker timing another engine never loads tagflow or the ladder.
"""

from __future__ import annotations

import importlib

from html_bench import tagflow_api
from html_bench.engines import Engine, Renderers


def pybuilder_renderers() -> Renderers:
    """The shared tagflow-API scenario code on the correct pure-Python string builder."""
    return tagflow_api.renderers(importlib.import_module("tagflow_analysis.pybuilder"))


PYBUILDER = Engine(
    "pybuilder",
    "pure-Python string builder (tagflow API)",
    "builder",
    pybuilder_renderers,
    ("tagflow_analysis.pybuilder",),
    ("tagflow-analysis",),
    "tagflow-performance-analysis' correct string builder, same scenario code",
)
