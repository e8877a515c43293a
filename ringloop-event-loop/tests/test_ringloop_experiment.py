"""The ringloop experiment's judge: what makes a run untrustworthy, and how verdicts follow from
the counts (synthetic results; the real run is `lab run ringloop-event-loop`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lab.experiment import Experiment
from lab.verdicts import find, problems

exp = Experiment("ringloop-event-loop").load()


def _module(name: str, run: int, passed: int, skipped: int = 0) -> dict[str, Any]:
    failed = [f"test.{name}.T.test_{i}" for i in range(run - passed - skipped)]
    return {"module": name, "run": run, "passed": passed, "failures": len(failed),
            "errors": 0, "skipped": skipped, "failed_tests": failed, "internals": [],
            "loops_created": run}  # fmt: skip


def _results(**changes: Any) -> dict[str, Any]:
    soak = {"requests_asked": 1000, "requests": 1000, "verified": True, "echoload_exit": 0,
            "req_per_s": 5e4, "rss": [(0.0, 20000), (0.2, 24000), (0.6, 24010), (1.0, 24020)],
            "server": {"fds_before": [0, 1, 2], "fds_after": [0, 1, 2], "connections_left": 0,
                       "rss_kib": 24020}}  # fmt: skip
    entry = {"exe": "/py", "soak": soak, "conformance": [
        {"loop": "ringloop", "python": "3.13.5", "modules": [_module("test_events", 10, 10)]},
        {"loop": "uvloop", "python": "3.13.5", "modules": [
            _module("test_events", 10, 7), {"module": "test_sock_lowlevel",
                                            "error": "timed out after 300 s"}]},
    ]}  # fmt: skip
    for path, value in changes.items():
        *keys, last = path.split("__")
        target: Any = entry
        for k in keys:
            target = target[int(k)] if k.isdigit() else target[k]
        target[int(last) if last.isdigit() else last] = value
    results = {"pythons": [copy.deepcopy(entry)]}
    results["verdicts"] = exp.decide(results)
    return results


def test_a_clean_run_has_no_errors_and_clear_verdicts() -> None:
    r = _results()
    assert exp.errors(r) == []
    assert problems(r["verdicts"]) == []
    q = "Does ringloop pass CPython 3.13.5's asyncio tests that run on it?"
    assert find(r["verdicts"], q)["answer"] == "yes"  # type: ignore[index]
    q = "Does ringloop fail fewer of CPython 3.13.5's asyncio tests than uvloop?"
    assert find(r["verdicts"], q)["answer"] == "yes"  # type: ignore[index]
    q = "Is ringloop's RSS flat over 1,000 echoed requests (Python 3.13.5)?"
    assert find(r["verdicts"], q)["answer"] == "yes"  # type: ignore[index]


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"soak__verified": False}, "not verified"),
        ({"soak__echoload_exit": 2}, "echoload exit 2"),
        ({"soak__requests": 10}, "10 of 1000 requests"),
        ({"soak__server": None}, "did not report"),
        ({"soak__rss": [(0.5, 1)]}, "fewer than two RSS samples"),
        ({"conformance__0__modules": [{"module": "test_tasks", "error": "exit -11"}]},
         "ringloop test_tasks did not finish"),
        ({"conformance__1": {"loop": "uvloop", "error": "no test.test_asyncio"}},
         "conformance for uvloop did not run"),
    ],
)  # fmt: skip
def test_what_cannot_be_trusted_is_an_error(changes: dict[str, Any], error: str) -> None:
    errs = exp.errors(_results(**changes))
    assert any(error in e for e in errs), errs


def test_growth_leaked_descriptors_and_failures_are_findings_not_errors() -> None:
    r = _results(
        soak__rss=[(0.0, 20000), (0.2, 24000), (1.0, 40000)],
        soak__server={"fds_before": [0, 1], "fds_after": [0, 1, 7], "connections_left": 0},
        conformance__0__modules=[_module("test_events", 10, 9)],
    )
    assert exp.errors(r) == []
    answers = {v["question"].split(" (")[0].split("?")[0]: v["answer"] for v in r["verdicts"]}
    assert answers["Is ringloop's RSS flat over 1,000 echoed requests"] == "no: it grows"
    assert answers["Are all of ringloop's file descriptors closed after its server stops"] == "no"
    assert answers["Does ringloop pass CPython 3.13.5's asyncio tests that run on it"].startswith(
        "no: 1 failed"
    )
