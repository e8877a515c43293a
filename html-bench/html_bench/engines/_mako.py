"""Mako with HTML escaping on every expression (default_filters=['h'], as Mako documents)."""

from __future__ import annotations

from mako.template import Template

from html_bench.engines import Renderers
from html_bench.engines._templates import keyword_renderers

# Control lines (% for / % endfor) must start a line; every other line ends with a backslash,
# which Mako documents as consuming the newline, so the output has no indentation either.
TEMPLATES = {
    "simple": """
<!DOCTYPE html><html><head><title>${title}</title><meta charset="utf-8"></head>\\
<body><header><h1>${heading}</h1></header><main>\\
% for p in paragraphs:
<p>${p}</p>\\
% endfor
</main><footer><p>${footer}</p></footer></body></html>""",
    "complex": """
<!DOCTYPE html><html lang="en"><head><title>${title}</title><meta charset="utf-8">\\
<meta name="viewport" content="width=device-width, initial-scale=1">\\
<style>${css | n}</style></head><body><nav class="nav"><ul>\\
% for item in nav:
<li><a href="${item['href']}">${item['label']}</a></li>\\
% endfor
</ul></nav><header><h1>${heading}</h1><p class="subtitle">${subtitle}</p></header>\\
<main><section id="content"><h2>${section_title}</h2><div class="grid">\\
% for c in cards:
<article class="card"><h3>${c['title']}</h3><p>${c['body']}</p><div class="meta">\\
<span class="date">${c['date']}</span><span class="author">${c['author']}</span></div></article>\\
% endfor
</div></section></main><aside><h3>${aside_title}</h3><ul>\\
% for item in links:
<li><a href="${item['href']}">${item['label']}</a></li>\\
% endfor
</ul></aside><footer><p>${footer}</p></footer></body></html>""",
    "table": """
<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${heading}</h1>\\
<table><thead><tr>\\
% for col in columns:
<th>${col}</th>\\
% endfor
</tr></thead><tbody>\\
% for r in rows:
<tr><td>${r['id']}</td><td>${r['name']}</td><td>${r['email']}</td>\\
<td>${r['department']}</td><td>${"${:,}".format(r['salary'])}</td></tr>\\
% endfor
</tbody></table></body></html>""",
    "escaping": """
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>\\
<body><h1>${title}</h1>\\
<div class="profile" data-name="${user['name']}" title="${user['bio']}"><h2>${user['name']}</h2>\\
<p>${user['bio']}</p><a href="${user['homepage']}">${user['homepage']}</a></div>\\
<ul class="comments">\\
% for c in comments:
<li title="${c['tooltip']}" data-score="${c['score']}"><a href="${c['url']}">${c['author']}</a>\\
<p>${c['text']}</p><span class="score">${c['score']}</span></li>\\
% endfor
</ul></body></html>""",
}


def renderers() -> Renderers:
    compiled = {
        name: Template(src.lstrip("\n"), default_filters=["h"]) for name, src in TEMPLATES.items()
    }
    return keyword_renderers({name: t.render for name, t in compiled.items()})
