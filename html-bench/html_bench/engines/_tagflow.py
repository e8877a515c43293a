"""Engines that run the shared tagflow-API scenario code (html_bench.tagflow_api)."""

from __future__ import annotations

import importlib

from html_bench import tagflow_api
from html_bench.engines import Renderers


def renderers() -> Renderers:
    return tagflow_api.renderers(importlib.import_module("tagflow"))


def cpp_compat_renderers() -> Renderers:
    return tagflow_api.renderers(importlib.import_module("tagflow_cpp.compat"))
