"""Fixtures every experiment's tests share (pytest finds this file for all of them)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lab import results


@pytest.fixture
def stored(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A fresh copy of the results of the published full-mode run of the experiment whose tests
    ask (``<experiment>/tests/test_*.py``): real data to judge, nobody's hand-made fixture."""
    name = request.path.parents[1].name
    record = results.published(name)
    assert record is not None, f"{name}: nothing published (run `lab publish {name}`)"
    return copy.deepcopy(record["results"])


def _interpreters() -> tuple[list[str], list[str]]:
    """(interpreters the suite runs on, optional ones missing here)."""
    from lab import pythons

    found = pythons.default()
    missing = [] if pythons.provisioned() else [f"CPython {pythons.VERSION} (make pythons)"]
    if pythons.free_threaded() is None:  # the free-threading tests are skipped without it
        missing.append(f"free-threaded CPython {pythons.VERSION}t (make pythons)")
    # Interpreters already on the machine that some tests use where they can (Debian's or
    # pyenv's, lab.pythons.elsewhere).
    for minor, used in (
        ("3.10", "dramatiq-async-exc-fix's oldest supported Python is not tested"),
        ("3.12", "the cp312 tagflow_cpp wheel is not tested"),
    ):
        if pythons.elsewhere(minor) is None:
            missing.append(f"CPython {minor} (none on this machine: {used})")
    return found, missing


def pytest_report_header(config: pytest.Config) -> str:
    found, missing = _interpreters()
    line = "interpreters: " + ", ".join(found)
    return line + (f"; MISSING: {', '.join(missing)}" if missing else "")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """A missing optional interpreter is said at the end, where the pass count is read."""
    found, missing = _interpreters()
    if missing:
        terminalreporter.write_line(
            f"NOTE: tests that run on every interpreter ran on {len(found)} only; missing: "
            + ", ".join(missing),
            yellow=True,
            bold=True,
        )
    else:
        terminalreporter.write_line("interpreters tested: " + ", ".join(found))
