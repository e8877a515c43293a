"""The experiments `lab` knows, in the order `lab run` runs them.

Adding an experiment: create its folder with an ``experiment.py`` (see
``lab/experiment.py`` for the interface) and add one line here.
"""

from __future__ import annotations

import os

EXPERIMENTS: tuple[str, ...] = (
    "tagflow-reimplementation",
    "tagflow-vs-jinja-benchmark",
    "tagflow-performance-analysis",
    "uvloop-updated-benchmark",
    "hatchling-pyo3-plugin",
    "dramatiq-memory-leak",
    "ringloop-event-loop",
)


def names() -> tuple[str, ...]:
    """Registered experiment names; ``LAB_EXPERIMENTS`` (comma-separated) overrides, for tests."""
    override = os.environ.get("LAB_EXPERIMENTS")
    if override:
        return tuple(n.strip() for n in override.split(",") if n.strip())
    return EXPERIMENTS
