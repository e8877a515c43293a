"""The experiment's README sections, from its published run (with a few facts changed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from html_bench import report

from lab.experiment import Experiment

exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def test_sections_say_what_the_run_recorded(stored: dict[str, Any]) -> None:
    stored["verdicts"] = [  # what the run stores, decided from its rows
        v for py in stored["python_versions"] for v in report.verdicts(stored["rows"], py)
    ]
    stored["interpreters"].append(
        {"requested": "/x/python", "python": None, "reason": "interpreter not found"}
    )
    stored.update(load_average_at_start=3.0, load_average_at_end=3.5, cpu_count=2)
    sections = exp.readme_sections(stored)
    assert {"headline", "results", "claims", "equivalence", "details", "plots"} <= set(sections)
    assert "busy with other work" in sections["results"]
    assert "skipped: interpreter not found" in sections["environment"]
    assert "tagflow_cpp takes" in sections["headline"]
    assert "Jinja2 is 14.55x faster than tagflow" in sections["claims"]
    summary = dict(exp.summarize(stored))
    assert any(k.startswith("tagflow / Jinja2") for k in summary)
