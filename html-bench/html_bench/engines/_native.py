"""tagflow_cpp's explicit API: a Document with one method per element (issue 3's interface).

``with doc.div(...)`` opens an element; ``doc.td(value)`` with a positional text argument writes
a whole leaf element at once; void elements (``doc.meta(...)``) are written at once; the
stylesheet goes through ``doc.raw`` (style content is raw text in HTML).
"""

from __future__ import annotations

from typing import Any

from html_bench.engines import Renderers, by_scenario
from html_bench.scenarios import COMPLEX_CSS


def renderers() -> Renderers:
    from tagflow_cpp import Document

    def simple(d: dict[str, Any]) -> str:
        doc = Document()
        doc.doctype()
        with doc.html():
            with doc.head():
                doc.title(d["title"])
                doc.meta(charset="utf-8")
            with doc.body():
                with doc.header():
                    doc.h1(d["heading"])
                with doc.main():
                    for p in d["paragraphs"]:
                        doc.p(p)
                with doc.footer():
                    doc.p(d["footer"])
        return doc.render()

    def complex_page(d: dict[str, Any]) -> str:
        doc = Document()
        doc.doctype()
        with doc.html(lang="en"):
            with doc.head():
                doc.title(d["title"])
                doc.meta(charset="utf-8")
                doc.meta(name="viewport", content="width=device-width, initial-scale=1")
                with doc.style():
                    doc.raw(COMPLEX_CSS)
            with doc.body():
                with doc.nav(class_="nav"), doc.ul():
                    for item in d["nav"]:
                        with doc.li():
                            doc.a(item["label"], href=item["href"])
                with doc.header():
                    doc.h1(d["heading"])
                    doc.p(d["subtitle"], class_="subtitle")
                with doc.main(), doc.section(id="content"):
                    doc.h2(d["section_title"])
                    with doc.div(class_="grid"):
                        for c in d["cards"]:
                            with doc.article(class_="card"):
                                doc.h3(c["title"])
                                doc.p(c["body"])
                                with doc.div(class_="meta"):
                                    doc.span(c["date"], class_="date")
                                    doc.span(c["author"], class_="author")
                with doc.aside():
                    doc.h3(d["aside_title"])
                    with doc.ul():
                        for item in d["links"]:
                            with doc.li():
                                doc.a(item["label"], href=item["href"])
                with doc.footer():
                    doc.p(d["footer"])
        return doc.render()

    def table(d: dict[str, Any]) -> str:
        doc = Document()
        doc.doctype()
        with doc.html():
            with doc.head():
                doc.title(d["title"])
            with doc.body():
                doc.h1(d["heading"])
                with doc.table():
                    with doc.thead(), doc.tr():
                        for col in d["columns"]:
                            doc.th(col)
                    with doc.tbody():
                        for r in d["rows"]:
                            with doc.tr():
                                doc.td(r["id"])
                                doc.td(r["name"])
                                doc.td(r["email"])
                                doc.td(r["department"])
                                doc.td(f"${r['salary']:,}")
        return doc.render()

    def escaping(d: dict[str, Any]) -> str:
        u = d["user"]
        doc = Document()
        doc.doctype()
        with doc.html(lang="en"):
            with doc.head():
                doc.meta(charset="utf-8")
                doc.title(d["title"])
            with doc.body():
                doc.h1(d["title"])
                with doc.div(class_="profile", data_name=u["name"], title=u["bio"]):
                    doc.h2(u["name"])
                    doc.p(u["bio"])
                    doc.a(u["homepage"], href=u["homepage"])
                with doc.ul(class_="comments"):
                    for c in d["comments"]:
                        with doc.li(title=c["tooltip"], data_score=c["score"]):
                            doc.a(c["author"], href=c["url"])
                            doc.p(c["text"])
                            doc.span(c["score"], class_="score")
        return doc.render()

    return by_scenario(simple, complex_page, table, escaping)
