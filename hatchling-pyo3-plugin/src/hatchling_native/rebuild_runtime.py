"""Rebuild on import, for editable installs with ``rebuild-on-import = true``.

The editable wheel ships this file as ``_hatchling_native_rebuild_<dist>_<hook>.py``, the plan
the hook recorded next to it (same name, ``.json``) and a ``.pth`` that imports it at start-up.
It puts a finder first on ``sys.meta_path`` that does nothing until the first import of one of
the project's extension modules in the process; then it runs the build the editable install ran
(``cargo build`` / ``cmake --build`` + ``cmake --install``, incremental: a no-op when nothing
changed), copies every extension that changed into place, and lets the normal import go on.

A failed build is an ImportError carrying the tool's last lines, never a stale module.
``HATCHLING_NATIVE_NO_REBUILD=1`` turns it off for a process. Standard library only: the
plugin is not installed where the package runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

OFF_VARIABLE = "HATCHLING_NATIVE_NO_REBUILD"


def _tool(recorded: str) -> str:
    """The recorded build tool, or the same tool on PATH if that one is gone (a build
    environment that no longer exists)."""
    if os.path.isfile(recorded):
        return recorded
    found = shutil.which(os.path.basename(recorded))
    if found is None:
        raise ImportError(
            f"hatchling-native: cannot rebuild: {recorded} (used at install time) no longer"
            f" exists and {os.path.basename(recorded)} is not on PATH; set {OFF_VARIABLE}=1"
            " to import what was last built"
        )
    return found


def _copy_if_changed(src: Path, dest: Path) -> bool:
    """Atomically replace ``dest`` with ``src`` unless identical (a loaded .so keeps its inode)."""
    try:
        if dest.stat().st_size == src.stat().st_size and dest.read_bytes() == src.read_bytes():
            return False
    except FileNotFoundError:
        pass
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)
    return True


def rebuild(plan: dict[str, Any], here: Path) -> list[str]:
    """Run the plan's build steps, copy what changed; the names of the files replaced."""
    started = time.monotonic()
    for step in plan["steps"]:
        argv = [_tool(step["argv"][0]), *step["argv"][1:]]
        if step.get("fresh"):
            # An install prefix emptied first: `cmake --install` keeps a file it thinks is
            # up to date, and it compares times to the second, so a rebuild within the second
            # of the last install was never copied (the old module stayed).
            shutil.rmtree(step["fresh"], ignore_errors=True)
        env = dict(os.environ)
        for name, value in step["env"].items():  # None: unset, as it was at install time
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        proc = subprocess.run(
            argv, cwd=step["cwd"], env=env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, errors="replace",
        )  # fmt: skip
        if proc.returncode != 0:
            lines = (proc.stderr + proc.stdout).strip().splitlines()
            tail = "\n".join(line for line in lines if not line.startswith("{"))[-4000:]
            raise ImportError(
                f"hatchling-native: rebuilding {plan['project']} on import failed:"
                f" {' '.join(argv[:2])} exited with status {proc.returncode}\n{tail}"
            )
    replaced = []
    for origin, dest in plan["copies"]:
        target = Path(dest) if os.path.isabs(dest) else here / dest
        if not os.path.isfile(origin):
            raise ImportError(f"hatchling-native: the rebuild left no {origin}")
        if _copy_if_changed(Path(origin), target):
            replaced.append(target.name)
    if replaced:
        seconds = time.monotonic() - started
        print(
            f"hatchling-native: rebuilt {', '.join(replaced)} in {seconds:.1f} s",
            file=sys.stderr,
        )
    return replaced


class RebuildFinder:
    """Rebuilds once per process, at the first import of a watched module; finds nothing.
    A failed rebuild fails that import and every later one of a watched module."""

    def __init__(self, plan: dict[str, Any], here: Path) -> None:
        self.plan, self.here = plan, here
        self.modules = frozenset(plan["modules"])
        self.done = False
        self.error: ImportError | None = None
        self.lock = threading.Lock()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname not in self.modules:
            return None
        with self.lock:
            if not self.done:
                self.done = True
                try:
                    rebuild(self.plan, self.here)
                except ImportError as exc:
                    self.error = exc
        if self.error is not None:
            raise self.error
        return None

    def invalidate_caches(self) -> None:
        pass


def install(module_file: str) -> None:
    """Called from the .pth at start-up: read the plan next to ``module_file``, add the finder."""
    if os.environ.get(OFF_VARIABLE):
        return
    path = Path(module_file)
    plan = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    sys.meta_path.insert(0, RebuildFinder(plan, path.parent))


if __name__ != "__main__" and __name__.startswith("_hatchling_native_rebuild_"):
    install(__file__)
