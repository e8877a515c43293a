"""The reference output of every scenario: hand-written string building with ``html.escape``.

This is the oracle the equivalence check compares every engine against (after normalization),
and the source of the element counts. It is also benchmarked, as the engine ``fstring``: the
floor of what pure Python string building costs.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from html_bench.scenarios import COMPLEX_CSS

DOCTYPE = "<!DOCTYPE html>"


def simple(d: dict[str, Any]) -> str:
    out = [
        DOCTYPE,
        "<html><head><title>",
        escape(d["title"]),
        '</title><meta charset="utf-8"></head><body><header><h1>',
        escape(d["heading"]),
        "</h1></header><main>",
    ]
    for p in d["paragraphs"]:
        out.append(f"<p>{escape(p)}</p>")
    out.append(f"</main><footer><p>{escape(d['footer'])}</p></footer></body></html>")
    return "".join(out)


def complex_page(d: dict[str, Any]) -> str:
    out = [
        DOCTYPE,
        '<html lang="en"><head><title>',
        escape(d["title"]),
        '</title><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{COMPLEX_CSS}</style></head><body>",
        '<nav class="nav"><ul>',
    ]
    for item in d["nav"]:
        out.append(f'<li><a href="{escape(item["href"])}">{escape(item["label"])}</a></li>')
    out.append(
        f"</ul></nav><header><h1>{escape(d['heading'])}</h1>"
        f'<p class="subtitle">{escape(d["subtitle"])}</p></header>'
        f'<main><section id="content"><h2>{escape(d["section_title"])}</h2><div class="grid">'
    )
    for c in d["cards"]:
        out.append(
            f'<article class="card"><h3>{escape(c["title"])}</h3><p>{escape(c["body"])}</p>'
            f'<div class="meta"><span class="date">{escape(c["date"])}</span>'
            f'<span class="author">{escape(c["author"])}</span></div></article>'
        )
    out.append(f"</div></section></main><aside><h3>{escape(d['aside_title'])}</h3><ul>")
    for item in d["links"]:
        out.append(f'<li><a href="{escape(item["href"])}">{escape(item["label"])}</a></li>')
    out.append(f"</ul></aside><footer><p>{escape(d['footer'])}</p></footer></body></html>")
    return "".join(out)


def table(d: dict[str, Any]) -> str:
    out = [
        DOCTYPE,
        f"<html><head><title>{escape(d['title'])}</title></head>",
        f"<body><h1>{escape(d['heading'])}</h1><table><thead><tr>",
    ]
    for col in d["columns"]:
        out.append(f"<th>{escape(col)}</th>")
    out.append("</tr></thead><tbody>")
    for r in d["rows"]:
        out.append(
            f"<tr><td>{r['id']}</td><td>{escape(r['name'])}</td><td>{escape(r['email'])}</td>"
            f"<td>{escape(r['department'])}</td><td>${r['salary']:,}</td></tr>"
        )
    out.append("</tbody></table></body></html>")
    return "".join(out)


def escaping(d: dict[str, Any]) -> str:
    u = d["user"]
    out = [
        DOCTYPE,
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(d["title"])}</title></head>',
        f"<body><h1>{escape(d['title'])}</h1>",
        f'<div class="profile" data-name="{escape(u["name"])}" title="{escape(u["bio"])}">',
        f"<h2>{escape(u['name'])}</h2><p>{escape(u['bio'])}</p>",
        f'<a href="{escape(u["homepage"])}">{escape(u["homepage"])}</a></div>',
        '<ul class="comments">',
    ]
    for c in d["comments"]:
        out.append(
            f'<li title="{escape(c["tooltip"])}" data-score="{c["score"]}">'
            f'<a href="{escape(c["url"])}">{escape(c["author"])}</a>'
            f'<p>{escape(c["text"])}</p><span class="score">{c["score"]}</span></li>'
        )
    out.append("</ul></body></html>")
    return "".join(out)


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "simple": simple,
    "complex": complex_page,
    "table100": table,
    "table1000": table,
    "escaping": escaping,
}


def render(scenario: str, data: dict[str, Any]) -> str:
    return RENDERERS[scenario](data)
