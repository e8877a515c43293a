"""The app the serving benchmark runs behind uvicorn (experiment.py, run_serving).

One route per engine, ``GET /<engine>``, each rendering the same scenario (html_bench's
``table1000`` by default: a 1000-row table) from the same data with html_bench's renderer for
that engine, configured as the engine's documentation recommends (Jinja2 with autoescape on),
returned as an ``HTMLResponse`` (what ``tagflow_cpp.responses.DocumentResponse`` is for a
finished document). The routes are ``async def``: the page is rendered on the event loop's
thread, so every engine pays the same server overhead and nothing else.

Environment: SERVING_SCENARIO, SERVING_ENGINES (comma-separated html_bench engine names).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from html_bench.engines import resolve
from html_bench.scenarios import data
from starlette.responses import HTMLResponse

SCENARIO = os.environ.get("SERVING_SCENARIO", "table1000")
ENGINES = os.environ.get("SERVING_ENGINES", "tagflow_cpp,jinja2,tagflow").split(",")
DATA = data(SCENARIO)

app = FastAPI()


def _route(render: Callable[[dict[str, Any]], str]) -> Callable[[], Awaitable[HTMLResponse]]:
    async def page() -> HTMLResponse:
        return HTMLResponse(render(DATA))

    return page


for _name in ENGINES:
    app.add_api_route(f"/{_name}", _route(resolve(_name).renderers()[SCENARIO]), methods=["GET"])
