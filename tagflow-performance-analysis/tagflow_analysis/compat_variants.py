"""The idea tried on tagflow_cpp.compat, measured as a before/after: per-element dispatch in C.

The callgrind split of tagflow_cpp.compat's first design showed most of its instructions in the
interpreter: a Python wrapper frame for every ``tag.<name>(...)`` and every ``text(...)``, each
reading the current document from a ContextVar and calling the engine. The most promising cut
was to make those two entry points C objects that read the ContextVar themselves; this
experiment prototyped that (a vectorcall opener type) and tagflow_cpp adopted it
(``_TagOpener`` and ``_tf_text`` in its ``_core``).

To keep measuring what the idea buys, :func:`python_dispatch` rebuilds the *first* design over
the current engine: ``tag.<name>`` and ``text`` as Python functions, everything else
(``document``, ``attr``, ``classes``, ``dataset``, ``html``, the engine) tagflow_cpp.compat's
own. The ladder times it as rung f- next to rung f (tagflow_cpp.compat as shipped), and the
callgrind analysis splits both, so the gain of moving the dispatch into C stays a measured
figure. It reads ``tagflow_cpp.compat._current`` (the ContextVar) and opens elements through
``tagflow_cpp.compat.tag(name, ...)`` (once ``_core._tf_open``, removed when compat's ``tag``
became a C type): an experiment on that package, not an API of it.
"""

from __future__ import annotations

import types
from typing import Any


def python_dispatch() -> types.ModuleType:
    """tagflow_cpp.compat with ``tag.<name>`` and ``text`` as Python wrappers (the first design)."""
    from tagflow_cpp import compat

    get = compat._current.get
    open_named = compat.tag  # tag(name, *classes, **attrs): the engine's generic opener

    class HTMLTagBuilder:
        def __call__(self, tagname: str, *klasses: Any, **kwargs: Any) -> Any:
            return open_named(tagname, *klasses, **kwargs)

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)

            def open_element(*klasses: Any, **kwargs: Any) -> Any:
                return open_named(name, *klasses, **kwargs)

            open_element.__name__ = name
            setattr(self, name, open_element)  # cached: the next tag.<name> is a plain lookup
            return open_element

    def text(content: str) -> None:
        doc = get()
        if doc is None:
            raise LookupError("tagflow_cpp.compat: no document is active (use `with document():`)")
        doc.text(content)

    mod = types.ModuleType("tagflow_analysis.compat_variants[python_dispatch]")
    mod.tag = HTMLTagBuilder()
    mod.text = text
    for name in ("attr", "classes", "dataset", "document", "html"):
        setattr(mod, name, getattr(compat, name))
    return mod


def renderers() -> dict[str, Any]:
    """html_bench engine factory: the shared tagflow scenario code on :func:`python_dispatch`."""
    from html_bench import tagflow_api

    return tagflow_api.renderers(python_dispatch())
