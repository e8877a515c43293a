"""`lab publish EXPERIMENT`: the only way measured figures reach tracked files.

It takes one working run (the latest good one, or ``--run STAMP``), refuses it with a
one-line reason unless it can be vouched for, and otherwise replaces
``<experiment>/results/`` with the run's files and ``published.json``, then regenerates the
experiment's README sections, the summary in the top README, ``results/SUMMARY.md`` and
``results/index.html``. The commit that follows is the history; nothing else is kept.

A run can be published when:

* it is a full-mode run whose status is "ok" (no error, at least one measurement);
* the checkout was clean when it ran (no uncommitted change to a tracked file), and neither
  the experiment's code nor the lab has changed since (its generated files aside);
* the machine was quiet: other work used at most 0.5 of each core while it ran
  (``--allow-noisy`` overrides, and the README then says so).
"""

from __future__ import annotations

import subprocess
from typing import Any

from lab import report, results
from lab.environment import LoadMonitor
from lab.experiment import Experiment
from lab.paths import repo_root

#: Code every experiment's figures may depend on: the lab, the shared HTML-benchmark package,
#: the C++ build and the lock file.
SHARED = ("lab", "html-bench", "pyproject.toml", "uv.lock", "CMakeLists.txt", "CMakePresets.json")


class Refused(Exception):
    """The run cannot be published; the message says why, in one line."""


def _changed_since(commit: str, name: str) -> list[str]:
    """Files of the experiment or the shared code that differ between ``commit`` and the
    work tree (the experiment's generated files aside)."""
    paths = [
        name,
        f":(exclude){name}/results",
        f":(exclude){name}/README.md",
        *SHARED,
    ]
    out = subprocess.run(
        ["git", "diff", "--name-only", commit, "--", *paths],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    if out.returncode != 0:
        raise Refused(f"cannot compare with the run's commit {commit[:10]}: {out.stderr.strip()}")
    return out.stdout.split()


def check(name: str, record: dict[str, Any], *, allow_noisy: bool) -> bool:
    """Raise :class:`Refused` unless ``record`` may be published; return whether it is noisy."""
    stamp = record.get("stamp")
    if record.get("status") != "ok" or record.get("errors"):
        raise Refused(
            f"run {stamp} failed: {record.get('error') or 'status ' + str(record.get('status'))}"
        )
    if record.get("mode") != "full":
        raise Refused(
            f"run {stamp} is {record.get('mode')} mode; publish only full-mode runs "
            f"(`lab run {name} --full`)"
        )
    git = (record.get("environment") or {}).get("git") or {}
    if not git.get("commit"):
        raise Refused(f"run {stamp} has no git commit recorded")
    if git.get("dirty") is not False:
        raise Refused(f"run {stamp} was made from a checkout with uncommitted changes")
    changed = _changed_since(git["commit"], name)
    if changed:
        shown = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
        raise Refused(f"code changed since run {stamp} (commit {git['commit'][:10]}): {shown}")
    load = record.get("load") or {}
    other: float | None = load.get("other_per_core")
    if other is None:
        raise Refused(f"run {stamp} did not record the load on the machine")
    noisy = other > LoadMonitor.THRESHOLD_PER_CORE
    if noisy and not allow_noisy:
        raise Refused(
            f"machine was busy during run {stamp}: other work used {other} of each core "
            f"(limit {LoadMonitor.THRESHOLD_PER_CORE}); re-run on a quiet machine or pass "
            "--allow-noisy (the README will say so)"
        )
    return noisy


def publish(
    exp: Experiment,
    everything: list[Experiment],
    *,
    stamp: str | None,
    allow_noisy: bool,
    argv: list[str],
) -> list[str]:
    """Publish a run of ``exp``; return what was written. Raises :class:`Refused`."""
    try:
        found = results.run_by_stamp(exp.name, stamp) if stamp else results.latest_run(exp.name)
    except results.RecordError as exc:
        raise Refused(str(exc)) from None
    if found is None:
        raise Refused(f"no good run of {exp.name} to publish (`lab run {exp.name} --full`)")
    folder, record = found
    noisy = check(exp.name, record, allow_noisy=allow_noisy)
    record = {k: v for k, v in record.items() if k != "schema_version"}
    record["published"] = {
        "at": results.utc_stamp(),
        "command_line": argv,
        "noisy": noisy,
    }
    # The README sections must render before anything is replaced.
    try:
        report.sections(exp.load(), record)
    except report.ReportError as exc:
        raise Refused(str(exc)) from None
    path = results.publish_files(exp.name, folder, record)
    return [f"published {folder.name} as {path}", *report.build_published(everything, exp.name)]
