"""The interface between `lab` and an experiment.

An experiment is a folder at the repository root with an ``experiment.py``
and a line in ``lab/registry.py``. The module defines:

``TITLE: str``
    One line: what the experiment shows.
``ISSUE: int``
    Its issue number in the tracker (shown by ``lab list``).
``run(ctx: Context) -> dict``
    Does the work and returns JSON-serialisable results. Use ``ctx.quick``,
    ``ctx.pythons``, ``ctx.procs`` for child processes, ``ctx.progress`` to
    report progress, ``ctx.out`` for files (plots, CSVs), ``ctx.log`` for
    messages. May raise: ``lab`` records the failure and goes on.
``errors(results: dict) -> list[str]``
    Everything in ``results`` that means a figure cannot be trusted or is
    missing (a failed build of the tool under test, a cell that did not
    measure, output that did not verify), one line each. A competitor's
    failure that *is* the finding is not an error. Any error makes the run
    "failed": it is kept for inspection but never becomes ``latest`` and
    cannot be published.
``results["verdicts"]``
    The run's verdicts, decided by the experiment's analysis from this run's numbers
    (``lab.verdicts.verdict``: question, answer, measured figures, rule, thresholds). Reports
    render them as stored; a run without them, or with a malformed one, is "failed".
``measurement_count(results: dict) -> int``
    How many successful measurements the run produced; 0 makes it "failed".
``summarize(results: dict) -> list[tuple[str, str]]``
    Headline rows for the summary table: (what, figure). Keep it to a few.
``readme_sections(results: dict) -> dict[str, str]``  (optional)
    Markdown for the generated parts of the experiment's README, by marker
    name: ``<!-- lab:begin NAME -->`` ... ``<!-- lab:end NAME -->``. Link
    files the run wrote as ``results/NAME`` (where ``lab publish`` puts them).

``ctx.out`` is the run's own folder (``runs/<experiment>/<stamp>/`` once the
run ends; a hidden staging folder while it runs). Write files there only, and
list the ones worth showing with ``ctx.artifact(path)``: pictures are shown in
the reports, other files linked. Temporary files go to ``tempfile`` (the run's
``TMPDIR``, removed when the run ends, however it ends).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from lab.paths import experiment_dir
from lab.procs import ProcessGroup

T = TypeVar("T")


class Progress:
    """Progress of one experiment: a total and an advancing count."""

    def __init__(self, on_change: Callable[[int | None, int, str | None], None] | None = None):
        self.total: int | None = None
        self.done = 0
        self.note: str | None = None
        self._on_change = on_change

    def set_total(self, total: int) -> None:
        self.total = max(1, int(total))
        self._changed()

    def advance(self, steps: int = 1, note: str | None = None) -> None:
        self.done += steps
        if note is not None:
            self.note = note
        self._changed()

    def describe(self, note: str) -> None:
        self.note = note
        self._changed()

    def track(self, items: Iterable[T], label: Callable[[T], str] | None = None) -> Iterator[T]:
        """Iterate, advancing once per item (sets the total if the iterable has a length)."""
        seq = list(items)
        if self.total is None:
            self.set_total(self.done + len(seq))
        for item in seq:
            if label is not None:
                self.describe(label(item))
            yield item
            self.advance()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.total, self.done, self.note)


@dataclass
class Context:
    """What an experiment's ``run`` gets from ``lab``."""

    name: str
    quick: bool
    pythons: list[str]
    procs: ProcessGroup
    out: Path
    progress: Progress = field(default_factory=Progress)
    log: Callable[[str], None] = print
    artifacts: list[str] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    @property
    def root(self) -> Path:
        """The experiment's folder."""
        return experiment_dir(self.name)

    def artifact(self, path: str | Path) -> Path:
        """Register a file (plot, CSV, profile) written under ``out`` as part of this run."""
        p = Path(path).resolve()
        rel = p.relative_to(self.out.resolve())
        if str(rel) not in self.artifacts:
            self.artifacts.append(str(rel))
        return p


def import_file(mod_name: str, path: Path) -> ModuleType:
    """Import the Python file ``path`` as ``mod_name`` once (later calls return that module);
    a file that fails to import leaves nothing behind in ``sys.modules``. For an experiment's
    own modules that live beside its experiment.py rather than in an installed package."""
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    return module


@dataclass
class Experiment:
    name: str

    @property
    def folder(self) -> Path:
        return experiment_dir(self.name)

    @property
    def module_path(self) -> Path:
        return self.folder / "experiment.py"

    def load(self) -> ModuleType:
        """Import the experiment's ``experiment.py`` (a fresh module name per experiment)."""
        path = self.module_path
        if not path.is_file():
            raise FileNotFoundError(f"{self.name}: no experiment.py in {self.folder}")
        return import_file("lab_experiment_" + self.name.replace("-", "_"), path)

    def describe(self) -> dict[str, Any]:
        """Title and issue, without failing on a broken module."""
        try:
            mod = self.load()
        except Exception as exc:
            return {"title": f"(cannot load: {exc})", "issue": None}
        return {"title": getattr(mod, "TITLE", ""), "issue": getattr(mod, "ISSUE", None)}
