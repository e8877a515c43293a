"""Deliberately misbehaving engines, used by the harness's own tests (never benchmarked).

They are addressed by import spec, e.g. ``"html_bench.engines._selftest:raising"``, which is the
same path other packages use to hand engines to ``measure``.
"""

from __future__ import annotations

from html_bench import reference
from html_bench.engines import Engine, Renderers


def _boom(_data: object) -> str:
    raise RuntimeError("this engine always fails")


def raising() -> Renderers:
    """Renders nothing: every scenario raises."""
    return dict.fromkeys(reference.RENDERERS, _boom)


def unescaped() -> Engine:
    """Builds pages without escaping anything: equal on plain pages, differs on 'escaping'."""

    def factory() -> Renderers:
        out = {}
        for name, render in reference.RENDERERS.items():
            out[name] = lambda d, _r=render: _r(d).replace("&amp;", "&").replace("&lt;", "<")
        return out

    return Engine("unescaped", "unescaped (self-test)", "builder", factory)


def missing() -> Engine:
    """An engine whose library is not installed."""
    return Engine("missing", "missing (self-test)", "builder", raising, ("no_such_module_xyz",))
