"""Python HTML builders from PyPI, each used the way its documentation shows."""

from __future__ import annotations

from html_bench import reference
from html_bench.engines import Renderers, by_scenario


def fstring() -> Renderers:
    return dict(reference.RENDERERS)


def htpy_renderers() -> Renderers:
    from htpy import (
        a,
        article,
        aside,
        body,
        div,
        footer,
        h1,
        h2,
        h3,
        head,
        header,
        html,
        li,
        main,
        meta,
        nav,
        p,
        section,
        span,
        style,
        table,
        tbody,
        td,
        th,
        thead,
        title,
        tr,
        ul,
    )
    from markupsafe import Markup

    from html_bench.scenarios import COMPLEX_CSS

    css = Markup(COMPLEX_CSS)  # trusted static stylesheet

    # htpy's html element writes "<!doctype html>" itself.
    def simple(d):
        return str(
            html[
                head[title[d["title"]], meta(charset="utf-8")],
                body[
                    header[h1[d["heading"]]],
                    main[(p[x] for x in d["paragraphs"])],
                    footer[p[d["footer"]]],
                ],
            ]
        )

    def complex_page(d):
        return str(
            html(lang="en")[
                head[
                    title[d["title"]],
                    meta(charset="utf-8"),
                    meta(name="viewport", content="width=device-width, initial-scale=1"),
                    style[css],
                ],
                body[
                    nav(".nav")[ul[(li[a(href=i["href"])[i["label"]]] for i in d["nav"])]],
                    header[h1[d["heading"]], p(".subtitle")[d["subtitle"]]],
                    main[
                        section("#content")[
                            h2[d["section_title"]],
                            div(".grid")[
                                (
                                    article(".card")[
                                        h3[c["title"]],
                                        p[c["body"]],
                                        div(".meta")[
                                            span(".date")[c["date"]],
                                            span(".author")[c["author"]],
                                        ],
                                    ]
                                    for c in d["cards"]
                                )
                            ],
                        ]
                    ],
                    aside[
                        h3[d["aside_title"]],
                        ul[(li[a(href=i["href"])[i["label"]]] for i in d["links"])],
                    ],
                    footer[p[d["footer"]]],
                ],
            ]
        )

    def tab(d):
        return str(
            html[
                head[title[d["title"]]],
                body[
                    h1[d["heading"]],
                    table[
                        thead[tr[(th[c] for c in d["columns"])]],
                        tbody[
                            (
                                tr[
                                    td[str(r["id"])],
                                    td[r["name"]],
                                    td[r["email"]],
                                    td[r["department"]],
                                    td[f"${r['salary']:,}"],
                                ]
                                for r in d["rows"]
                            )
                        ],
                    ],
                ],
            ]
        )

    def escaping(d):
        u = d["user"]
        return str(
            html(lang="en")[
                head[meta(charset="utf-8"), title[d["title"]]],
                body[
                    h1[d["title"]],
                    div(".profile", data_name=u["name"], title=u["bio"])[
                        h2[u["name"]], p[u["bio"]], a(href=u["homepage"])[u["homepage"]]
                    ],
                    ul(".comments")[
                        (
                            li(title=c["tooltip"], data_score=str(c["score"]))[
                                a(href=c["url"])[c["author"]],
                                p[c["text"]],
                                span(".score")[str(c["score"])],
                            ]
                            for c in d["comments"]
                        )
                    ],
                ],
            ]
        )

    return by_scenario(simple, complex_page, tab, escaping)


def dominate_renderers() -> Renderers:
    from dominate import tags as t
    from dominate.util import raw

    from html_bench.scenarios import COMPLEX_CSS

    doctype = "<!DOCTYPE html>"

    def simple(d):
        root = t.html()
        with root:
            with t.head():
                t.title(d["title"])
                t.meta(charset="utf-8")
            with t.body():
                with t.header():
                    t.h1(d["heading"])
                with t.main():
                    for x in d["paragraphs"]:
                        t.p(x)
                with t.footer():
                    t.p(d["footer"])
        return doctype + root.render(pretty=False)

    def complex_page(d):
        root = t.html(lang="en")
        with root:
            with t.head():
                t.title(d["title"])
                t.meta(charset="utf-8")
                t.meta(name="viewport", content="width=device-width, initial-scale=1")
                t.style(raw(COMPLEX_CSS))
            with t.body():
                with t.nav(cls="nav"), t.ul():
                    for i in d["nav"]:
                        with t.li():
                            t.a(i["label"], href=i["href"])
                with t.header():
                    t.h1(d["heading"])
                    t.p(d["subtitle"], cls="subtitle")
                with t.main(), t.section(id="content"):
                    t.h2(d["section_title"])
                    with t.div(cls="grid"):
                        for c in d["cards"]:
                            with t.article(cls="card"):
                                t.h3(c["title"])
                                t.p(c["body"])
                                with t.div(cls="meta"):
                                    t.span(c["date"], cls="date")
                                    t.span(c["author"], cls="author")
                with t.aside():
                    t.h3(d["aside_title"])
                    with t.ul():
                        for i in d["links"]:
                            with t.li():
                                t.a(i["label"], href=i["href"])
                with t.footer():
                    t.p(d["footer"])
        return doctype + root.render(pretty=False)

    def tab(d):
        root = t.html()
        with root:
            with t.head():
                t.title(d["title"])
            with t.body():
                t.h1(d["heading"])
                with t.table():
                    with t.thead(), t.tr():
                        for c in d["columns"]:
                            t.th(c)
                    with t.tbody():
                        for r in d["rows"]:
                            with t.tr():
                                t.td(str(r["id"]))
                                t.td(r["name"])
                                t.td(r["email"])
                                t.td(r["department"])
                                t.td(f"${r['salary']:,}")
        return doctype + root.render(pretty=False)

    def escaping(d):
        u = d["user"]
        root = t.html(lang="en")
        with root:
            with t.head():
                t.meta(charset="utf-8")
                t.title(d["title"])
            with t.body():
                t.h1(d["title"])
                with t.div(cls="profile", data_name=u["name"], title=u["bio"]):
                    t.h2(u["name"])
                    t.p(u["bio"])
                    t.a(u["homepage"], href=u["homepage"])
                with t.ul(cls="comments"):
                    for c in d["comments"]:
                        with t.li(title=c["tooltip"], data_score=str(c["score"])):
                            t.a(c["author"], href=c["url"])
                            t.p(c["text"])
                            t.span(str(c["score"]), cls="score")
        return doctype + root.render(pretty=False)

    return by_scenario(simple, complex_page, tab, escaping)


def yattag_renderers() -> Renderers:
    from yattag import Doc

    from html_bench.scenarios import COMPLEX_CSS

    def simple(d):
        doc, tag, text = Doc().tagtext()
        doc.asis("<!DOCTYPE html>")
        with tag("html"):
            with tag("head"):
                with tag("title"):
                    text(d["title"])
                doc.stag("meta", charset="utf-8")
            with tag("body"):
                with tag("header"), tag("h1"):
                    text(d["heading"])
                with tag("main"):
                    for x in d["paragraphs"]:
                        with tag("p"):
                            text(x)
                with tag("footer"), tag("p"):
                    text(d["footer"])
        return doc.getvalue()

    def complex_page(d):
        doc, tag, text = Doc().tagtext()
        doc.asis("<!DOCTYPE html>")
        with tag("html", lang="en"):
            with tag("head"):
                with tag("title"):
                    text(d["title"])
                doc.stag("meta", charset="utf-8")
                doc.stag("meta", name="viewport", content="width=device-width, initial-scale=1")
                with tag("style"):
                    doc.asis(COMPLEX_CSS)
            with tag("body"):
                with tag("nav", klass="nav"), tag("ul"):
                    for i in d["nav"]:
                        with tag("li"), tag("a", href=i["href"]):
                            text(i["label"])
                with tag("header"):
                    with tag("h1"):
                        text(d["heading"])
                    with tag("p", klass="subtitle"):
                        text(d["subtitle"])
                with tag("main"), tag("section", id="content"):
                    with tag("h2"):
                        text(d["section_title"])
                    with tag("div", klass="grid"):
                        for c in d["cards"]:
                            with tag("article", klass="card"):
                                with tag("h3"):
                                    text(c["title"])
                                with tag("p"):
                                    text(c["body"])
                                with tag("div", klass="meta"):
                                    with tag("span", klass="date"):
                                        text(c["date"])
                                    with tag("span", klass="author"):
                                        text(c["author"])
                with tag("aside"):
                    with tag("h3"):
                        text(d["aside_title"])
                    with tag("ul"):
                        for i in d["links"]:
                            with tag("li"), tag("a", href=i["href"]):
                                text(i["label"])
                with tag("footer"), tag("p"):
                    text(d["footer"])
        return doc.getvalue()

    def tab(d):
        doc, tag, text = Doc().tagtext()
        doc.asis("<!DOCTYPE html>")
        with tag("html"):
            with tag("head"), tag("title"):
                text(d["title"])
            with tag("body"):
                with tag("h1"):
                    text(d["heading"])
                with tag("table"):
                    with tag("thead"), tag("tr"):
                        for c in d["columns"]:
                            with tag("th"):
                                text(c)
                    with tag("tbody"):
                        for r in d["rows"]:
                            with tag("tr"):
                                with tag("td"):
                                    text(str(r["id"]))
                                with tag("td"):
                                    text(r["name"])
                                with tag("td"):
                                    text(r["email"])
                                with tag("td"):
                                    text(r["department"])
                                with tag("td"):
                                    text(f"${r['salary']:,}")
        return doc.getvalue()

    def escaping(d):
        u = d["user"]
        doc, tag, text = Doc().tagtext()
        doc.asis("<!DOCTYPE html>")
        with tag("html", lang="en"):
            with tag("head"):
                doc.stag("meta", charset="utf-8")
                with tag("title"):
                    text(d["title"])
            with tag("body"):
                with tag("h1"):
                    text(d["title"])
                with tag("div", ("data-name", u["name"]), klass="profile", title=u["bio"]):
                    with tag("h2"):
                        text(u["name"])
                    with tag("p"):
                        text(u["bio"])
                    with tag("a", href=u["homepage"]):
                        text(u["homepage"])
                with tag("ul", klass="comments"):
                    for c in d["comments"]:
                        with tag("li", ("data-score", str(c["score"])), title=c["tooltip"]):
                            with tag("a", href=c["url"]):
                                text(c["author"])
                            with tag("p"):
                                text(c["text"])
                            with tag("span", klass="score"):
                                text(str(c["score"]))
        return doc.getvalue()

    return by_scenario(simple, complex_page, tab, escaping)


def airium_renderers() -> Renderers:
    from html import escape

    from airium import Airium

    from html_bench.scenarios import COMPLEX_CSS

    # airium writes text as given (no escaping at all), so text goes through html.escape; it
    # escapes only '"' in attribute values, and we pass attribute values as airium takes them.
    def new() -> Airium:
        return Airium(source_minify=True)

    def simple(d):
        a = new()
        a("<!DOCTYPE html>")
        with a.html():
            with a.head():
                a.title(_t=escape(d["title"]))
                a.meta(charset="utf-8")
            with a.body():
                with a.header():
                    a.h1(_t=escape(d["heading"]))
                with a.main():
                    for x in d["paragraphs"]:
                        a.p(_t=escape(x))
                with a.footer():
                    a.p(_t=escape(d["footer"]))
        return str(a)

    def complex_page(d):
        a = new()
        a("<!DOCTYPE html>")
        with a.html(lang="en"):
            with a.head():
                a.title(_t=escape(d["title"]))
                a.meta(charset="utf-8")
                a.meta(name="viewport", content="width=device-width, initial-scale=1")
                a.style(_t=COMPLEX_CSS)
            with a.body():
                with a.nav(klass="nav"), a.ul():
                    for i in d["nav"]:
                        with a.li():
                            a.a(href=i["href"], _t=escape(i["label"]))
                with a.header():
                    a.h1(_t=escape(d["heading"]))
                    a.p(klass="subtitle", _t=escape(d["subtitle"]))
                with a.main(), a.section(id="content"):
                    a.h2(_t=escape(d["section_title"]))
                    with a.div(klass="grid"):
                        for c in d["cards"]:
                            with a.article(klass="card"):
                                a.h3(_t=escape(c["title"]))
                                a.p(_t=escape(c["body"]))
                                with a.div(klass="meta"):
                                    a.span(klass="date", _t=escape(c["date"]))
                                    a.span(klass="author", _t=escape(c["author"]))
                with a.aside():
                    a.h3(_t=escape(d["aside_title"]))
                    with a.ul():
                        for i in d["links"]:
                            with a.li():
                                a.a(href=i["href"], _t=escape(i["label"]))
                with a.footer():
                    a.p(_t=escape(d["footer"]))
        return str(a)

    def tab(d):
        a = new()
        a("<!DOCTYPE html>")
        with a.html():
            with a.head():
                a.title(_t=escape(d["title"]))
            with a.body():
                a.h1(_t=escape(d["heading"]))
                with a.table():
                    with a.thead(), a.tr():
                        for c in d["columns"]:
                            a.th(_t=escape(c))
                    with a.tbody():
                        for r in d["rows"]:
                            with a.tr():
                                a.td(_t=str(r["id"]))
                                a.td(_t=escape(r["name"]))
                                a.td(_t=escape(r["email"]))
                                a.td(_t=escape(r["department"]))
                                a.td(_t=f"${r['salary']:,}")
        return str(a)

    def escaping(d):
        u = d["user"]
        a = new()
        a("<!DOCTYPE html>")
        with a.html(lang="en"):
            with a.head():
                a.meta(charset="utf-8")
                a.title(_t=escape(d["title"]))
            with a.body():
                a.h1(_t=escape(d["title"]))
                with a.div(klass="profile", title=u["bio"], **{"data-name": u["name"]}):
                    a.h2(_t=escape(u["name"]))
                    a.p(_t=escape(u["bio"]))
                    a.a(href=u["homepage"], _t=escape(u["homepage"]))
                with a.ul(klass="comments"):
                    for c in d["comments"]:
                        with a.li(title=c["tooltip"], **{"data-score": str(c["score"])}):
                            a.a(href=c["url"], _t=escape(c["author"]))
                            a.p(_t=escape(c["text"]))
                            a.span(klass="score", _t=str(c["score"]))
        return str(a)

    return by_scenario(simple, complex_page, tab, escaping)


def fasttag_renderers() -> Renderers:
    import fasttag as f

    from html_bench.scenarios import COMPLEX_CSS

    f.set_indent(-1)  # documented: no indentation or newlines (faster, smaller output)

    def simple(d):
        return str(
            f.DOCTYPE
            + f.Html(
                f.Head(f.Title(d["title"]), f.Meta(charset="utf-8")),
                f.Body(
                    f.Header(f.H1(d["heading"])),
                    f.Main(*[f.P(x) for x in d["paragraphs"]]),
                    f.Footer(f.P(d["footer"])),
                ),
            )
        )

    def complex_page(d):
        return str(
            f.DOCTYPE
            + f.Html(
                f.Head(
                    f.Title(d["title"]),
                    f.Meta(charset="utf-8"),
                    f.Meta(name="viewport", content="width=device-width, initial-scale=1"),
                    f.Style(COMPLEX_CSS),
                ),
                f.Body(
                    f.Nav(
                        f.Ul(*[f.Li(f.A(i["label"], href=i["href"])) for i in d["nav"]]),
                        _class="nav",
                    ),
                    f.Header(f.H1(d["heading"]), f.P(d["subtitle"], _class="subtitle")),
                    f.Main(
                        f.Section(
                            f.H2(d["section_title"]),
                            f.Div(
                                *[
                                    f.Article(
                                        f.H3(c["title"]),
                                        f.P(c["body"]),
                                        f.Div(
                                            f.Span(c["date"], _class="date"),
                                            f.Span(c["author"], _class="author"),
                                            _class="meta",
                                        ),
                                        _class="card",
                                    )
                                    for c in d["cards"]
                                ],
                                _class="grid",
                            ),
                            id="content",
                        )
                    ),
                    f.Aside(
                        f.H3(d["aside_title"]),
                        f.Ul(*[f.Li(f.A(i["label"], href=i["href"])) for i in d["links"]]),
                    ),
                    f.Footer(f.P(d["footer"])),
                ),
                lang="en",
            )
        )

    def tab(d):
        return str(
            f.DOCTYPE
            + f.Html(
                f.Head(f.Title(d["title"])),
                f.Body(
                    f.H1(d["heading"]),
                    f.Table(
                        f.Thead(f.Tr(*[f.Th(c) for c in d["columns"]])),
                        f.Tbody(
                            *[
                                f.Tr(
                                    f.Td(str(r["id"])),
                                    f.Td(r["name"]),
                                    f.Td(r["email"]),
                                    f.Td(r["department"]),
                                    f.Td(f"${r['salary']:,}"),
                                )
                                for r in d["rows"]
                            ]
                        ),
                    ),
                ),
            )
        )

    def escaping(d):
        u = d["user"]
        return str(
            f.DOCTYPE
            + f.Html(
                f.Head(f.Meta(charset="utf-8"), f.Title(d["title"])),
                f.Body(
                    f.H1(d["title"]),
                    f.Div(
                        f.H2(u["name"]),
                        f.P(u["bio"]),
                        f.A(u["homepage"], href=u["homepage"]),
                        _class="profile",
                        data_name=u["name"],
                        title=u["bio"],
                    ),
                    f.Ul(
                        *[
                            f.Li(
                                f.A(c["author"], href=c["url"]),
                                f.P(c["text"]),
                                f.Span(str(c["score"]), _class="score"),
                                title=c["tooltip"],
                                data_score=str(c["score"]),
                            )
                            for c in d["comments"]
                        ],
                        _class="comments",
                    ),
                ),
                lang="en",
            )
        )

    return by_scenario(simple, complex_page, tab, escaping)
