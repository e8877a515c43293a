"""The scenarios every HTML engine renders: one definition, shared by the three tagflow experiments.

Each scenario builds its input once (plain dicts, lists, strings and ints), outside any timed
region; every engine receives the very same objects. ``elements`` and ``text_nodes`` are the
counts of the reference output (``html_bench.reference``), as the original study defined them for
the simple page (12/5), the complex page (65/34) and the 100-row table (614/507); the tests parse
the reference output and check them.

Every page is a full document starting with ``<!DOCTYPE html>``. Engines format the salary
themselves (``f"${salary:,}"``), as part of the render.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

#: The stylesheet of the complex page: static template content, emitted raw by every engine
#: (it contains a child combinator ``>`` that must not be escaped inside <style>).
COMPLEX_CSS = (
    "body{font-family:system-ui,sans-serif;margin:0}"
    ".nav>ul{display:flex;gap:1rem;list-style:none}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem}"
    ".card{border:1px solid #ddd;border-radius:4px;padding:1rem}"
    ".meta{color:#666;font-size:.8em}"
)

TABLE_COLUMNS = ["ID", "Name", "Email", "Department", "Salary"]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    builder: Callable[[], dict[str, Any]]
    elements: int
    text_nodes: int

    def build(self) -> dict[str, Any]:
        """The input data (a fresh object graph each call; build it once, outside timing)."""
        return self.builder()


def _simple() -> dict[str, Any]:
    return {
        "title": "Simple Page",
        "heading": "Welcome to the simple page",
        "paragraphs": [
            "This page has a header, a main section with two paragraphs, and a footer.",
            "It is the smallest scenario: twelve elements and five text nodes.",
        ],
        "footer": "Built for the HTML generation benchmark.",
    }


def _complex() -> dict[str, Any]:
    return {
        "title": "Complex Page",
        "nav": [
            {"label": "Home", "href": "/"},
            {"label": "Articles", "href": "/articles"},
            {"label": "About", "href": "/about"},
            {"label": "Contact", "href": "/contact"},
        ],
        "heading": "Latest articles",
        "subtitle": "Five cards in a grid, a sidebar and a footer",
        "section_title": "Featured",
        "cards": [
            {
                "title": f"Article {i}",
                "body": f"A short summary of article number {i}, long enough to be a paragraph.",
                "date": f"2025-01-{i:02d}",
                "author": f"Author {i}",
            }
            for i in range(1, 6)
        ],
        "aside_title": "Related",
        "links": [
            {"label": "Archive", "href": "/archive"},
            {"label": "Tags", "href": "/tags"},
            {"label": "Feed", "href": "/feed.xml"},
        ],
        "footer": "Copyright 2025 Example Inc.",
    }


def _table(rows: int) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        return {
            "title": "Employee Directory",
            "heading": f"Employees ({rows})",
            "columns": list(TABLE_COLUMNS),
            "rows": [
                {
                    "id": i + 1,
                    "name": f"Employee {i}",
                    "email": f"emp{i}@company.com",
                    "department": f"Dept {i % 5}",
                    "salary": 50_000 + (i * 1_000) % 100_000,
                }
                for i in range(rows)
            ],
        }

    return build


#: Characters that need escaping, placed in text and in attribute values of the escaping page.
SPECIALS = "<>&\"'"

_COMMENT_TEXTS = [
    "I <3 this & that, but <script>alert('xss')</script> is not welcome.",
    'He said "use &amp; for an ampersand" and left.',
    "Ünïcödé: naïve café, 日本語, Ελληνικά, emoji 🎉 — and a < b > c.",
    "Already-escaped looking text: &lt;b&gt; must stay literal, as must &copy; and &#39;.",
    "Quotes ' and \" next to each other: '\"'\"'",
]


def _escaping() -> dict[str, Any]:
    comments = []
    for i in range(20):
        body = _COMMENT_TEXTS[i % len(_COMMENT_TEXTS)]
        comments.append(
            {
                "author": f"user<{i}> & \"friend\" 'o'",
                "url": f'https://example.com/u?id={i}&lang=fr&copy=1&q="<x>"',
                "tooltip": f'Posted by "user {i}" & it\'s <fine> &amp; done',
                "text": body,
                "score": i * 7 - 30,
            }
        )
    return {
        "title": "Q&A: \"<escaping>\" & 'quotes'",
        "user": {
            "name": 'Zoë "Z" O\'Brien <admin> & co',
            "bio": 'Writes <b>bold</b> claims & "quoted" notes; café ☕',
            "homepage": "https://example.com/profile?name=zo%C3%AB&tab=posts&sort=<new>",
        },
        "comments": comments,
    }


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "simple",
            "simple page: head (title, meta charset), header>h1, main>2 p, footer>p",
            _simple,
            elements=12,
            text_nodes=5,
        ),
        Scenario(
            "complex",
            "complex page: nav (4 links), header, section with 5 article cards, aside, "
            "footer, viewport meta, a style block",
            _complex,
            elements=65,
            text_nodes=34,
        ),
        Scenario(
            "table100",
            "data table, 100 rows x 5 columns (ID, name, email, department, salary)",
            _table(100),
            elements=614,
            text_nodes=507,
        ),
        Scenario(
            "table1000",
            "data table, 1000 rows x 5 columns",
            _table(1000),
            elements=6014,
            text_nodes=5007,
        ),
        Scenario(
            "escaping",
            "user content with < > & \" ' in text and attribute values, non-ASCII text, "
            "URLs with & in href",
            _escaping,
            elements=91,
            text_nodes=65,
        ),
    )
}


class UnknownNameError(KeyError):
    """A scenario or engine name that does not exist (the message lists the valid ones)."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def get(name: str) -> Scenario:
    """The scenario called ``name``; a clear error listing the valid names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}"
        ) from None


@cache
def data(name: str) -> dict[str, Any]:
    """The scenario's input, built once per process and shared (engines must not mutate it)."""
    return get(name).build()
