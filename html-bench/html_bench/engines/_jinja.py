"""Jinja2, configured as its documentation recommends: one Environment, a loader, autoescape.

The data are dicts, so templates subscript them (``r['name']``): Jinja2 documents that ``[]``
tries the item first, and it renders the 100-row table about 30% faster than ``r.name``, which
tries ``getattr`` first. The baseline gets its fastest documented form.
"""

from __future__ import annotations

from typing import Any

import jinja2

from html_bench.engines import Renderers
from html_bench.engines._templates import compact
from html_bench.scenarios import COMPLEX_CSS

TEMPLATES = {
    "simple.html": """
        <!DOCTYPE html>
        <html>
          <head><title>{{ title }}</title><meta charset="utf-8"></head>
          <body>
            <header><h1>{{ heading }}</h1></header>
            <main>
              {% for p in paragraphs %}<p>{{ p }}</p>{% endfor %}
            </main>
            <footer><p>{{ footer }}</p></footer>
          </body>
        </html>""",
    "complex.html": """
        <!DOCTYPE html>
        <html lang="en">
          <head>
            <title>{{ title }}</title>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>CSS</style>
          </head>
          <body>
            <nav class="nav"><ul>
              {% for item in nav %}
              <li><a href="{{ item['href'] }}">{{ item['label'] }}</a></li>
              {% endfor %}
            </ul></nav>
            <header>
              <h1>{{ heading }}</h1>
              <p class="subtitle">{{ subtitle }}</p>
            </header>
            <main><section id="content">
              <h2>{{ section_title }}</h2>
              <div class="grid">
                {% for c in cards %}
                <article class="card">
                  <h3>{{ c['title'] }}</h3>
                  <p>{{ c['body'] }}</p>
                  <div class="meta">
                    <span class="date">{{ c['date'] }}</span>
                    <span class="author">{{ c['author'] }}</span>
                  </div>
                </article>
                {% endfor %}
              </div>
            </section></main>
            <aside>
              <h3>{{ aside_title }}</h3>
              <ul>
                {% for item in links %}
                <li><a href="{{ item['href'] }}">{{ item['label'] }}</a></li>
                {% endfor %}
              </ul>
            </aside>
            <footer><p>{{ footer }}</p></footer>
          </body>
        </html>""".replace("CSS", COMPLEX_CSS),
    "table.html": """
        <!DOCTYPE html>
        <html>
          <head><title>{{ title }}</title></head>
          <body>
            <h1>{{ heading }}</h1>
            <table>
              <thead><tr>{% for col in columns %}<th>{{ col }}</th>{% endfor %}</tr></thead>
              <tbody>
                {% for r in rows %}
                <tr>
                  <td>{{ r['id'] }}</td><td>{{ r['name'] }}</td><td>{{ r['email'] }}</td>
                  <td>{{ r['department'] }}</td><td>{{ "${:,}".format(r['salary']) }}</td>
                </tr>
                {% endfor %}
              </tbody>
            </table>
          </body>
        </html>""",
    "escaping.html": """
        <!DOCTYPE html>
        <html lang="en">
          <head><meta charset="utf-8"><title>{{ title }}</title></head>
          <body>
            <h1>{{ title }}</h1>
            <div class="profile" data-name="{{ user['name'] }}" title="{{ user['bio'] }}">
              <h2>{{ user['name'] }}</h2>
              <p>{{ user['bio'] }}</p>
              <a href="{{ user['homepage'] }}">{{ user['homepage'] }}</a>
            </div>
            <ul class="comments">
              {% for c in comments %}
              <li title="{{ c['tooltip'] }}" data-score="{{ c['score'] }}">
                <a href="{{ c['url'] }}">{{ c['author'] }}</a>
                <p>{{ c['text'] }}</p>
                <span class="score">{{ c['score'] }}</span>
              </li>
              {% endfor %}
            </ul>
          </body>
        </html>""",
}

SOURCES = {name: compact(src) for name, src in TEMPLATES.items()}

#: scenario -> template name
SCENARIO_TEMPLATES = {
    "simple": "simple.html",
    "complex": "complex.html",
    "table100": "table.html",
    "table1000": "table.html",
    "escaping": "escaping.html",
}


def _cached(autoescape: bool) -> Renderers:
    env = jinja2.Environment(loader=jinja2.DictLoader(SOURCES), autoescape=autoescape)
    out: Renderers = {}
    for scenario, name in SCENARIO_TEMPLATES.items():
        template = env.get_template(name)  # compiled once; the Environment caches it too

        def render(data: dict[str, Any], _render=template.render) -> str:
            return _render(data)

        out[scenario] = render
    return out


def cached_autoescape() -> Renderers:
    return _cached(True)


def cached_noescape() -> Renderers:
    return _cached(False)


def template_per_render() -> Renderers:
    out: Renderers = {}
    for scenario, name in SCENARIO_TEMPLATES.items():

        def render(data: dict[str, Any], _source: str = SOURCES[name]) -> str:
            return jinja2.Template(_source, autoescape=True).render(data)

        out[scenario] = render
    return out
