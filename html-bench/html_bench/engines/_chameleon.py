"""Chameleon page templates (ZPT): ``${...}`` and ``tal:`` expressions escape by default."""

from __future__ import annotations

from chameleon import PageTemplate

from html_bench.engines import Renderers
from html_bench.engines._templates import compact, keyword_renderers

TEMPLATES = {
    "simple": """
        <!DOCTYPE html>
        <html>
          <head><title>${title}</title><meta charset="utf-8"></head>
          <body>
            <header><h1>${heading}</h1></header>
            <main><p tal:repeat="p paragraphs">${p}</p></main>
            <footer><p>${footer}</p></footer>
          </body>
        </html>""",
    "complex": """
        <!DOCTYPE html>
        <html lang="en">
          <head>
            <title>${title}</title>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>${structure: css}</style>
          </head>
          <body>
            <nav class="nav"><ul>
              <li tal:repeat="item nav"><a href="${item['href']}">${item['label']}</a></li>
            </ul></nav>
            <header><h1>${heading}</h1><p class="subtitle">${subtitle}</p></header>
            <main><section id="content">
              <h2>${section_title}</h2>
              <div class="grid">
                <article class="card" tal:repeat="c cards">
                  <h3>${c['title']}</h3>
                  <p>${c['body']}</p>
                  <div class="meta">
                    <span class="date">${c['date']}</span><span class="author">${c['author']}</span>
                  </div>
                </article>
              </div>
            </section></main>
            <aside>
              <h3>${aside_title}</h3>
              <ul>
                <li tal:repeat="item links"><a href="${item['href']}">${item['label']}</a></li>
              </ul>
            </aside>
            <footer><p>${footer}</p></footer>
          </body>
        </html>""",
    "table": """
        <!DOCTYPE html>
        <html>
          <head><title>${title}</title></head>
          <body>
            <h1>${heading}</h1>
            <table>
              <thead><tr><th tal:repeat="col columns">${col}</th></tr></thead>
              <tbody>
                <tr tal:repeat="r rows">
                  <td>${r['id']}</td><td>${r['name']}</td><td>${r['email']}</td>
                  <td>${r['department']}</td><td>${'${:,}'.format(r['salary'])}</td>
                </tr>
              </tbody>
            </table>
          </body>
        </html>""",
    "escaping": """
        <!DOCTYPE html>
        <html lang="en">
          <head><meta charset="utf-8"><title>${title}</title></head>
          <body>
            <h1>${title}</h1>
            <div class="profile" data-name="${user['name']}" title="${user['bio']}">
              <h2>${user['name']}</h2>
              <p>${user['bio']}</p>
              <a href="${user['homepage']}">${user['homepage']}</a>
            </div>
            <ul class="comments">
              <li tal:repeat="c comments" title="${c['tooltip']}" data-score="${c['score']}">
                <a href="${c['url']}">${c['author']}</a>
                <p>${c['text']}</p>
                <span class="score">${c['score']}</span>
              </li>
            </ul>
          </body>
        </html>""",
}


def renderers() -> Renderers:
    compiled = {name: PageTemplate(compact(src)) for name, src in TEMPLATES.items()}
    return keyword_renderers({name: t.render for name, t in compiled.items()})
