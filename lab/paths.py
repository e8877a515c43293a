"""Where things live: the repository root and each experiment's folders."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The repository checkout (``LAB_ROOT`` overrides, for tests)."""
    override = os.environ.get("LAB_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parent.parent


def experiment_dir(name: str) -> Path:
    return repo_root() / name


def results_dir(name: str) -> Path:
    return experiment_dir(name) / "results"


def cache_dir() -> Path:
    """Machine-wide cache for built interpreters and environments (outside the checkout)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "experiments"
