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
