"""The most promising idea for tagflow_cpp.compat, tried: its per-element dispatch in C.

The callgrind split shows the compat API spending most of its instructions in the interpreter:
a Python wrapper frame for every ``tag.<name>(...)`` and every ``text(...)``. This module is
``tagflow_cpp.compat`` with exactly those two entry points replaced by C objects
(``cpp/fastcompat.cpp``, compiled here on first use into the cache directory) that read the
same ContextVar and call the same engine functions. Everything else (``document``, ``attr``,
``classes``, ``dataset``, ``html``) is tagflow_cpp.compat's own, so outputs are identical.

It reaches into ``tagflow_cpp.compat._current`` (the ContextVar) and
``tagflow_cpp._core._tf_open``: an experiment on A's package, not an API of it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from lab.paths import cache_dir

SOURCE = Path(__file__).resolve().parent.parent / "cpp" / "fastcompat.cpp"
MODULE = "_tagflow_analysis_fastcompat"
WARNINGS = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]


def build(run: Any = subprocess.run) -> Path:
    """Compile ``cpp/fastcompat.cpp`` (cached until the source changes); returns the module."""
    from tagflow_analysis.native import build_extension

    if not SOURCE.is_file():
        raise RuntimeError(f"missing source {SOURCE}")
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    out = cache_dir() / "tagflow-analysis" / tag / f"{MODULE}{suffix}"
    flags = [
        "-O2",
        "-DNDEBUG",
        "-std=c++20",
        "-fPIC",
        "-fvisibility=hidden",
        *WARNINGS,
        "-Wno-missing-field-initializers",  # PyTypeObject is filled in field by field
    ]
    return build_extension([SOURCE], out, flags, [], run)


def _load(path: Path) -> Any:
    loader = importlib.machinery.ExtensionFileLoader(MODULE, str(path))
    spec = importlib.util.spec_from_file_location(MODULE, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def module() -> Any:
    """tagflow_cpp.compat's API with ``tag`` and ``text`` dispatched in C."""
    import types

    from tagflow_cpp import _core, compat

    ext = _load(build())
    ext.setup(compat._current, _core._tf_open)

    class TagBuilder:
        """``tag.div(...)``: an Opener per name, cached on first use (a plain lookup after)."""

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            opener = ext.Opener(name)
            setattr(self, name, opener)
            return opener

        def __call__(self, tagname: str, *klasses: Any, **kwargs: Any) -> Any:
            return getattr(self, tagname)(*klasses, **kwargs)

    mod = types.ModuleType("tagflow_analysis.fastcompat[module]")
    mod.tag = TagBuilder()
    mod.text = ext.text
    for name in ("attr", "classes", "dataset", "document", "html"):
        setattr(mod, name, getattr(compat, name))
    return mod


def renderers() -> dict[str, Any]:
    """html_bench engine factory: the shared tagflow scenario code on this module."""
    from html_bench import tagflow_api

    return tagflow_api.renderers(module())
