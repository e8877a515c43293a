"""Every experiment's published figures: a full-mode run its own judge finds without errors."""

from __future__ import annotations

import pytest

from lab import registry, results
from lab.experiment import Experiment


@pytest.mark.parametrize("name", registry.names())
def test_published_run_is_full_mode_without_errors(name: str) -> None:
    record = results.published(name)
    assert record is not None, f"{name}: nothing published (run `lab publish {name}`)"
    assert record["mode"] == "full" and record["status"] == "ok"
    exp = Experiment(name).load()
    assert exp.errors(record["results"]) == []
    assert exp.measurement_count(record["results"]) > 1
