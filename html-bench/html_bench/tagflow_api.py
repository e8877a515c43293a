"""Every scenario written once against tagflow's module API.

``renderers(module)`` returns ``{scenario: render(data) -> str}`` for any module that exposes
tagflow 0.12.0's API: ``tag.<name>(*classes, **attrs)`` context managers, ``text``, ``attr``,
``document()`` yielding a fragment with ``to_html()``. It is used with ``tagflow`` itself, with
``tagflow_cpp.compat``, with the optimization-ladder variants of the performance analysis and with
its pure-Python string builder, so all of them run literally the same scenario code.

The doctype is prepended as a string: tagflow's fragments have no doctype node.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from html_bench.engines import by_scenario
from html_bench.scenarios import COMPLEX_CSS

DOCTYPE = "<!DOCTYPE html>"

Renderer = Callable[[dict[str, Any]], str]


def renderers(module: ModuleType | Any) -> dict[str, Renderer]:
    """The tagflow-style renderer of every scenario, bound to ``module``'s API."""
    tag = module.tag
    text = module.text
    attr = module.attr
    document = module.document

    def simple(d: dict[str, Any]) -> str:
        with document() as doc, tag.html():
            with tag.head():
                with tag.title():
                    text(d["title"])
                with tag.meta(charset="utf-8"):
                    pass
            with tag.body():
                with tag.header(), tag.h1():
                    text(d["heading"])
                with tag.main():
                    for p in d["paragraphs"]:
                        with tag.p():
                            text(p)
                with tag.footer(), tag.p():
                    text(d["footer"])
        return DOCTYPE + doc.to_html()

    def complex_page(d: dict[str, Any]) -> str:
        with document() as doc, tag.html(lang="en"):
            with tag.head():
                with tag.title():
                    text(d["title"])
                with tag.meta(charset="utf-8"):
                    pass
                with tag.meta(name="viewport", content="width=device-width, initial-scale=1"):
                    pass
                with tag.style():
                    text(COMPLEX_CSS)
            with tag.body():
                with tag.nav("nav"), tag.ul():
                    for item in d["nav"]:
                        with tag.li(), tag.a(href=item["href"]):
                            text(item["label"])
                with tag.header():
                    with tag.h1():
                        text(d["heading"])
                    with tag.p("subtitle"):
                        text(d["subtitle"])
                with tag.main(), tag.section(id="content"):
                    with tag.h2():
                        text(d["section_title"])
                    with tag.div("grid"):
                        for c in d["cards"]:
                            with tag.article("card"):
                                with tag.h3():
                                    text(c["title"])
                                with tag.p():
                                    text(c["body"])
                                with tag.div("meta"):
                                    with tag.span("date"):
                                        text(c["date"])
                                    with tag.span("author"):
                                        text(c["author"])
                with tag.aside():
                    with tag.h3():
                        text(d["aside_title"])
                    with tag.ul():
                        for item in d["links"]:
                            with tag.li(), tag.a(href=item["href"]):
                                text(item["label"])
                with tag.footer(), tag.p():
                    text(d["footer"])
        return DOCTYPE + doc.to_html()

    def table(d: dict[str, Any]) -> str:
        with document() as doc, tag.html():
            with tag.head(), tag.title():
                text(d["title"])
            with tag.body():
                with tag.h1():
                    text(d["heading"])
                with tag.table():
                    with tag.thead(), tag.tr():
                        for col in d["columns"]:
                            with tag.th():
                                text(col)
                    with tag.tbody():
                        for r in d["rows"]:
                            with tag.tr():
                                with tag.td():
                                    text(str(r["id"]))
                                with tag.td():
                                    text(r["name"])
                                with tag.td():
                                    text(r["email"])
                                with tag.td():
                                    text(r["department"])
                                with tag.td():
                                    text(f"${r['salary']:,}")
        return DOCTYPE + doc.to_html()

    def escaping(d: dict[str, Any]) -> str:
        u = d["user"]
        with document() as doc, tag.html(lang="en"):
            with tag.head():
                with tag.meta(charset="utf-8"):
                    pass
                with tag.title():
                    text(d["title"])
            with tag.body():
                with tag.h1():
                    text(d["title"])
                with tag.div("profile", data_name=u["name"]):
                    attr("title", u["bio"])  # set through attr(), the other half of the API
                    with tag.h2():
                        text(u["name"])
                    with tag.p():
                        text(u["bio"])
                    with tag.a(href=u["homepage"]):
                        text(u["homepage"])
                with tag.ul("comments"):
                    for c in d["comments"]:
                        with tag.li(title=c["tooltip"], data_score=str(c["score"])):
                            with tag.a(href=c["url"]):
                                text(c["author"])
                            with tag.p():
                                text(c["text"])
                            with tag.span("score"):
                                text(str(c["score"]))
        return DOCTYPE + doc.to_html()

    return by_scenario(simple, complex_page, table, escaping)
