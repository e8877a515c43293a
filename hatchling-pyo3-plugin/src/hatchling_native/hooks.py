"""Hatch plugin registration: ``[project.entry-points.hatch] native = "hatchling_native.hooks"``."""

from __future__ import annotations

from hatchling.plugin import hookimpl

from hatchling_native.cmake import CMakeBuildHook
from hatchling_native.pyo3 import Pyo3BuildHook


@hookimpl
def hatch_register_build_hook() -> list[type]:
    return [Pyo3BuildHook, CMakeBuildHook]
