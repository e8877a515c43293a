"""The engines under test, each configured the way its own documentation recommends.

``ENGINES`` maps a name to an :class:`Engine`. An engine's renderers are built lazily (importing
the library, compiling templates) by ``Engine.renderers()``; ``Engine.available()`` says why an
engine cannot run (``None`` when it can). Nothing here is imported at module import time, so a
missing library only disables its own engine.

Other packages add engines without touching this module (html_bench depends on none of them):

* an entry point in the group ``html_bench.engines`` whose object is an :class:`Engine`
  (``[project.entry-points."html_bench.engines"]`` in the package's pyproject): the engine is
  then known by name wherever html_bench runs with that package installed, like the built-in
  ones (tagflow-performance-analysis registers its pure-Python builder ``pybuilder`` so);
* an *engine spec* ``"package.module:factory"`` wherever an engine name is accepted
  (:func:`resolve`, ``html_bench.measure.measure``, the CLI): ``factory()`` returns an
  :class:`Engine`, or a ``{scenario: renderer}`` dict that is wrapped into one named after the
  spec. The spec is resolved by import inside each benchmark worker process, so it works on any
  interpreter whose environment has that package installed (the performance analysis passes its
  ladder rungs this way);
* ``register(engine)`` at run time, for in-process use (tests, notebooks).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from html_bench.scenarios import SCENARIOS, UnknownNameError

Renderer = Callable[[dict[str, Any]], str]
Renderers = dict[str, Renderer]


@dataclass
class Engine:
    """One way of producing the scenarios' HTML."""

    name: str
    label: str
    #: "builder" (Python code builds the page) or "template" (a template language).
    kind: str
    #: "module:function" returning the renderers dict; imported only when needed.
    factory: str | Callable[[], Renderers]
    #: Importable modules this engine needs (checked by available()).
    modules: tuple[str, ...] = ()
    #: Distributions whose versions are recorded with the results.
    dists: tuple[str, ...] = ()
    #: How escaping is done / what the configuration is (shown in the README).
    notes: str = ""
    #: A reference row, not a competitor (not ranked, e.g. Jinja2 without autoescape).
    reference: bool = False
    _cache: Renderers | None = field(default=None, repr=False, compare=False)
    _broken: str | None = field(default=None, repr=False, compare=False)

    def available(self) -> str | None:
        """None if the engine can run here, else the reason (e.g. "not installed: tagflow")."""
        if self._broken is not None:
            return self._broken
        for mod in self.modules:
            try:
                importlib.import_module(mod)
            except ImportError as exc:
                return f"not installed: {mod} ({exc})"
            except Exception as exc:  # a library that fails at import time
                return f"import of {mod} failed: {type(exc).__name__}: {exc}"
        return None

    def renderers(self) -> Renderers:
        """{scenario name: render(data) -> str}; built once and cached."""
        if self._cache is None:
            factory = self.factory
            if isinstance(factory, str):
                factory = _import_attr(factory)
            self._cache = factory()
        return self._cache

    def versions(self) -> dict[str, str]:
        out = {}
        for dist in self.dists:
            try:
                out[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                out[dist] = "not installed"
        return out


def by_scenario(
    simple: Renderer, complex_page: Renderer, table: Renderer, escaping: Renderer
) -> Renderers:
    """The renderers dict of an engine: one function per page (both tables share one)."""
    return {
        "simple": simple,
        "complex": complex_page,
        "table100": table,
        "table1000": table,
        "escaping": escaping,
    }


def _import_attr(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"engine spec {spec!r} must look like 'package.module:factory'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"engine spec {spec!r}: {module_name} has no attribute {attr!r}") from None


_P = "html_bench.engines"

ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine(
            "tagflow",
            "tagflow 0.12.0",
            "builder",
            f"{_P}._tagflow:renderers",
            ("tagflow",),
            ("tagflow",),
            'module API (tag/text/attr/document); escapes text & < >, attributes & " >',
        ),
        Engine(
            "jinja2",
            "Jinja2 (Environment, cached, autoescape)",
            "template",
            f"{_P}._jinja:cached_autoescape",
            ("jinja2",),
            ("jinja2", "markupsafe"),
            "Environment(DictLoader, autoescape=True), templates fetched once (cached); "
            "dict fields subscripted (r['name'], Jinja2's faster lookup for dicts)",
        ),
        Engine(
            "jinja2-noescape",
            "Jinja2 without autoescape (reference)",
            "template",
            f"{_P}._jinja:cached_noescape",
            ("jinja2",),
            ("jinja2", "markupsafe"),
            "the original's setup: Environment, cached templates, autoescape off (unsafe)",
            reference=True,
        ),
        Engine(
            "jinja2-template-per-render",
            "Jinja2 Template() per render (reference)",
            "template",
            f"{_P}._jinja:template_per_render",
            ("jinja2",),
            ("jinja2", "markupsafe"),
            "the original's other setup: Template(source, autoescape=True) compiled every render",
            reference=True,
        ),
        Engine(
            "tagflow_cpp",
            "tagflow_cpp (explicit Document API)",
            "builder",
            f"{_P}._native:renderers",
            ("tagflow_cpp",),
            ("tagflow-cpp",),
            "C++ engine, Document with one method per element, leaf form for text elements",
        ),
        Engine(
            "tagflow_cpp.compat",
            "tagflow_cpp.compat (tagflow API)",
            "builder",
            f"{_P}._tagflow:cpp_compat_renderers",
            ("tagflow_cpp.compat",),
            ("tagflow-cpp",),
            "the tagflow scenario code unchanged, on tagflow_cpp's drop-in module",
        ),
        Engine(
            "fstring",
            "hand-written f-strings + html.escape",
            "builder",
            f"{_P}._builders:fstring",
            (),
            (),
            "the reference output itself: str.join of f-strings, html.escape(quote=True)",
        ),
        Engine(
            "htpy",
            "htpy",
            "builder",
            f"{_P}._builders:htpy_renderers",
            ("htpy",),
            ("htpy", "markupsafe"),
            "element[children] syntax; escapes text and attributes (markupsafe); "
            "the stylesheet passed as Markup",
        ),
        Engine(
            "dominate",
            "dominate",
            "builder",
            f"{_P}._builders:dominate_renderers",
            ("dominate",),
            ("dominate",),
            "tags as context managers, render(pretty=False); escapes text and attributes; "
            "the stylesheet via dominate.util.raw",
        ),
        Engine(
            "yattag",
            "yattag",
            "builder",
            f"{_P}._builders:yattag_renderers",
            ("yattag",),
            ("yattag",),
            "Doc().tagtext(); text() and attributes escaped by yattag; stylesheet via asis()",
        ),
        Engine(
            "airium",
            "airium",
            "builder",
            f"{_P}._builders:airium_renderers",
            ("airium",),
            ("airium",),
            'airium escapes nothing in text (we call html.escape) and only " in attribute '
            "values (passed as airium takes them)",
        ),
        Engine(
            "fasttag",
            "fasttag",
            "builder",
            f"{_P}._builders:fasttag_renderers",
            ("fasttag",),
            ("fasttag",),
            "C extension, nested calls, set_indent(-1); escapes children and attributes",
        ),
        Engine(
            "mako",
            "Mako (default_filters=['h'])",
            "template",
            f"{_P}._mako:renderers",
            ("mako",),
            ("mako", "markupsafe"),
            "Template(source, default_filters=['h']) compiled once; h = markupsafe escape",
        ),
        Engine(
            "chameleon",
            "Chameleon PageTemplate",
            "template",
            f"{_P}._chameleon:renderers",
            ("chameleon",),
            ("chameleon",),
            "PageTemplate compiled once; ${...} and tal:attributes escape by default",
        ),
    )
}

_EXTRA: dict[str, Engine] = {}
ENTRY_POINT_GROUP = "html_bench.engines"


def register(engine: Engine) -> Engine:
    """Add an engine for this process (see the module docstring for the import-path form)."""
    _EXTRA[engine.name] = engine
    return engine


@functools.cache
def plugins() -> dict[str, Engine]:
    """Engines other installed packages register (entry point group ``html_bench.engines``).

    A plugin that fails to load is kept as an engine that is unavailable with the reason, so a
    broken package shows up in the results instead of disappearing.
    """
    found: dict[str, Engine] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            engine = ep.load()
        except Exception as exc:
            reason = f"plugin {ep.value} failed to load: {type(exc).__name__}: {exc}"
            engine = Engine(ep.name, ep.name, "builder", ep.value, _broken=reason)
        if not isinstance(engine, Engine):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not an html_bench Engine")
        if engine.name in ENGINES:
            raise ValueError(f"plugin {ep.value} reuses the built-in engine name {engine.name!r}")
        found[engine.name] = engine
    return found


def all_engines() -> dict[str, Engine]:
    """Built-in engines, then registered plugins, then engines registered in this process."""
    return {**ENGINES, **plugins(), **_EXTRA}


def names() -> list[str]:
    return list(all_engines())


def resolve(name: str) -> Engine:
    """An engine by name, or by spec ``"pkg.module:factory"``; clear error listing valid names."""
    if name in ENGINES or name in _EXTRA:  # without importing any plugin package
        return {**ENGINES, **_EXTRA}[name]
    if name in plugins():
        return plugins()[name]
    if ":" in name:
        made = _import_attr(name)()
        if isinstance(made, Engine):
            return made
        if isinstance(made, dict):
            return Engine(name, name, "builder", lambda made=made: made)
        raise TypeError(f"engine spec {name!r} returned {type(made).__name__}, not an Engine")
    raise UnknownNameError(
        f"unknown engine {name!r}; valid engines: {', '.join(names())} "
        "(or an import spec 'package.module:factory')"
    )


def check_complete(engine: Engine) -> None:
    """Raise if an engine's renderers do not cover every scenario."""
    missing = [s for s in SCENARIOS if s not in engine.renderers()]
    if missing:
        raise ValueError(f"engine {engine.name!r} has no renderer for {', '.join(missing)}")
