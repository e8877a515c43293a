"""Benchmark environments for interpreters other than the lab's own.

``bench_python(path)`` returns an interpreter that can run the benchmark: the lab's own
interpreter as is (the workspace has everything), or an environment built by ``lab.venvs``
holding the pinned engines (this package's pyproject), ``html_bench`` itself (editable, so it
always runs the current code), and, if they install, ``tagflow_cpp`` (built from
tagflow-reimplementation/) and ``tagflow_analysis`` (pybuilder). The environment is rebuilt
when the interpreter, the pins or those packages' sources change.

tagflow 0.12.0 declares Requires-Python >=3.12 although its code runs on 3.11; on an older
interpreter it is installed with its declared dependencies and ``--python-version 3.12
--no-deps`` (the equivalence check then shows whether it works), and the environment notes say so.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.venvs import Step, VenvError, ensure, interpreter, tree_stamp

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent  # html-bench/ (the shared package, its pyproject holds the pins)
REPO = PROJECT.parent
NATIVE = REPO / "tagflow-reimplementation"
ANALYSIS = REPO / "tagflow-performance-analysis"
TAGFLOW_DEPS = [
    "anyio>=4.8.0",
    "beautifulsoup4>=4.12.3",
    "fastapi>=0.115.6",
    "hypercorn>=0.17.3",
    "rich>=13.9.4",
    "trio>=0.28.0",
]


@dataclass
class BenchEnv:
    python: str | None  # interpreter to run the benchmark with; None if skipped
    requested: str
    reason: str | None = None  # why it was skipped
    notes: list[str] = field(default_factory=list)
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _requirements() -> list[str]:
    """html_bench's pinned dependencies, without the workspace's own packages (the lab toolkit:
    it runs in the lab's process, not in the benchmark workers, and is on no index)."""
    data = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    sources = data.get("tool", {}).get("uv", {}).get("sources", {})
    workspace = {name for name, src in sources.items() if src.get("workspace")}
    return [r for r in data["project"]["dependencies"] if _name(r) not in workspace]


def _name(requirement: str) -> str:
    """The distribution name a requirement string starts with ("tagflow @ https://..." ->
    "tagflow")."""
    return re.split(r"[\s<>=!~@\[;]", requirement, maxsplit=1)[0]


def _is_self(python: str) -> bool:
    """The lab's own interpreter (or the very binary its environment runs): measured in place."""
    if python == sys.executable:
        return True
    try:
        return Path(python).resolve() == Path(sys.executable).resolve()
    except OSError:
        return False


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".")[:2] if x.isdigit())


def steps(version: str) -> list[Step]:
    """What goes into the environment of a Python ``version`` ("3.13.5"), in order."""
    reqs = _requirements()
    tagflow = [r for r in reqs if r.startswith("tagflow")]
    others = [r for r in reqs if not r.startswith("tagflow")]
    out = [Step((*others, *TAGFLOW_DEPS), what="the pinned engines")]
    for req in tagflow:
        if _version_tuple(version) < (3, 12):
            out.append(
                Step(
                    ("--no-deps", "--python-version", "3.12", req),
                    what="tagflow",
                    optional=True,
                    note="tagflow 0.12.0 declares Requires-Python >=3.12: installed with its "
                    "declared dependencies, its Requires-Python check bypassed",
                )
            )
        else:
            out.append(Step(("--no-deps", req), what="tagflow", optional=True))
    out.append(Step(("--no-deps", "-e", str(PROJECT)), what="html_bench"))
    out.append(Step((str(NATIVE),), what="tagflow_cpp", optional=True))
    out.append(Step(("--no-deps", "-e", str(ANALYSIS)), what="tagflow_analysis", optional=True))
    return out


def bench_python(
    python: str,
    *,
    cache: Path | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> BenchEnv:
    """An interpreter ready to run the benchmark for ``python`` (see the module docstring).

    Never raises for an unusable interpreter or a failed build: the result then has
    ``python=None`` and the ``reason``. An optional part (tagflow, tagflow_cpp, pybuilder) that
    did not install is named in ``notes``.
    """
    if _is_self(python):
        return BenchEnv(sys.executable, python, notes=["the lab's own environment"])
    try:
        version = interpreter(python)["version"]
        log(f"benchmark environment for Python {version} (a C++ build the first time)")
        venv = ensure(
            "html-bench",
            python,
            steps(version),
            fingerprint=[tree_stamp(NATIVE), tree_stamp(ANALYSIS)],
            log=log,
            root=cache / "html-bench" if cache is not None else None,
        )
    except (VenvError, FileNotFoundError) as exc:
        return BenchEnv(None, python, reason=str(exc))
    notes = venv.notes + [f"{what} not installed: {why}" for what, why in venv.skipped.items()]
    return BenchEnv(str(venv.python), python, notes=notes, path=str(venv.path))
