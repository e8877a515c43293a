"""Where things live: the repository root, each experiment's folders, the lab's own state.

Two kinds of results, kept apart:

* working runs, ``runs/<experiment>/<stamp>/`` (ignored by git): every ``lab run`` writes
  here and nowhere else in the checkout;
* published figures, ``<experiment>/results/`` (tracked): only ``lab publish`` writes here.
"""

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
    """An experiment's published figures (tracked; written only by ``lab publish``)."""
    return experiment_dir(name) / "results"


def runs_root() -> Path:
    """Working runs of every experiment (ignored by git)."""
    return repo_root() / "runs"


def runs_dir(name: str) -> Path:
    """An experiment's working runs: ``<stamp>/`` for good runs, ``<stamp>.failed/`` otherwise."""
    return runs_root() / name


def cache_dir() -> Path:
    """Machine-wide cache for built interpreters and environments (outside the checkout)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "experiments"


def state_dir() -> Path:
    """The lab's machine-wide state: the run lock and each run's temporary folder.

    Machine-wide on purpose: two checkouts measuring at once would measure each other.
    ``LAB_STATE_DIR`` overrides, for tests.
    """
    override = os.environ.get("LAB_STATE_DIR")
    return Path(override) if override else cache_dir() / "lab"


def uv() -> str:
    """The uv executable the lab uses: ``$UV`` (set by ``uv run``), uv on PATH, or the private
    one ``lab/setup.sh`` installs under the cache folder. Raises FileNotFoundError otherwise."""
    import shutil

    for candidate in (os.environ.get("UV"), shutil.which("uv"), cache_dir() / "uv-venv/bin/uv"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError("uv not found: run `make setup` (it installs uv privately)")


def build_dir() -> Path:
    """The CMake release build of the checkout (``make build``); ``LAB_BUILD_DIR`` overrides."""
    override = os.environ.get("LAB_BUILD_DIR")
    return Path(override) if override else repo_root() / "build" / "release"


def built(experiment: str, target: str) -> Path:
    """A C++ executable of the release build: ``<build>/<experiment>/<target>``.

    Raises FileNotFoundError naming the path and the command that builds it.
    """
    path = build_dir() / experiment / target
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise FileNotFoundError(f"{path} is not built (run `make build`)")
    return path
