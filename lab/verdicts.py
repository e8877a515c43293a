"""Verdicts as data.

An experiment's analysis decides its verdicts when the run ends, from the run's own numbers,
and stores them in the results (``results["verdicts"]``): what was asked, the answer, the
figures it rests on, the rule that turned the figures into the answer, and the thresholds that
rule used. Reports render them as stored (:func:`table`, :func:`bullets`) and never recompute
them, so a published README says what the run decided, under the rule it was decided by, even
after the analysis code changes.

``lab`` checks the shape (:func:`problems`) when it judges a run: a malformed verdict makes
the run "failed" like any other error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from lab.tables import markdown

#: The answer of an interval-based comparison that does not exclude "no difference".
NO_DIFFERENCE = "no difference shown"


class Verdict(TypedDict):
    question: str  # what is judged, e.g. "tagflow / Jinja2 render time (3.11.7)"
    answer: str  # the verdict, e.g. "holds", "uvloop faster", "no difference shown"
    measured: str  # the figures it rests on, formatted for a reader
    rule: str  # how the answer follows from the figures, e.g. "holds when ratio > 1.5"
    thresholds: dict[str, float]  # the numbers the rule used, by name


def verdict(question: str, answer: str, measured: str, rule: str, **thresholds: float) -> Verdict:
    """One verdict; ``thresholds`` are the numbers ``rule`` compares against."""
    return {
        "question": question,
        "answer": answer,
        "measured": measured,
        "rule": rule,
        "thresholds": {k: float(v) for k, v in thresholds.items()},
    }


def problems(value: Any) -> list[str]:
    """What is wrong with ``results["verdicts"]`` (empty when it is a list of verdicts)."""
    if not isinstance(value, list):
        return [f"verdicts must be a list, got {type(value).__name__}"]
    out = []
    for i, v in enumerate(value):
        if not isinstance(v, Mapping):
            out.append(f"verdict {i} is not a mapping")
            continue
        for key in ("question", "answer", "measured", "rule"):
            if not isinstance(v.get(key), str) or not v.get(key):
                out.append(f"verdict {i} has no {key}")
        if not isinstance(v.get("thresholds"), Mapping):
            out.append(f"verdict {i} has no thresholds")
    return out


def table(verdicts: Iterable[Mapping[str, Any]]) -> str:
    """The stored verdicts as a markdown table (question, measured, verdict, rule)."""
    rows = [[v["question"], v["measured"], f"**{v['answer']}**", v["rule"]] for v in verdicts]
    if not rows:
        return "(no verdicts in this run)"
    return markdown(["question", "measured here", "verdict", "rule"], rows)


def bullets(verdicts: Iterable[Mapping[str, Any]]) -> str:
    """The stored verdicts as a markdown list, for prose sections."""
    lines = [
        f"- {v['question']}: **{v['answer']}** ({v['measured']}; {v['rule']})" for v in verdicts
    ]
    return "\n".join(lines) if lines else "(no verdicts in this run)"


def find(verdicts: Iterable[Mapping[str, Any]], question: str) -> Mapping[str, Any] | None:
    """The stored verdict for ``question`` (None when the run could not decide it)."""
    return next((v for v in verdicts if v["question"] == question), None)
