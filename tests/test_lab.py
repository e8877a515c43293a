"""The lab CLI: bad input, honest status, working runs apart from published figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab import results
from lab.report import replace_sections

ROOT = Path(__file__).resolve().parent.parent

OK_EXPERIMENT = """
TITLE = "adds numbers"
ISSUE = 99
def run(ctx):
    ctx.progress.set_total(2)
    ctx.progress.advance()
    ctx.progress.advance(note="done")
    (ctx.out / "numbers.csv").write_text("a,b\\n1,2\\n")
    ctx.artifact(ctx.out / "numbers.csv")
    (ctx.out / "plot.png").write_bytes(b"\\x89PNG fake")
    ctx.artifact(ctx.out / "plot.png")
    verdict = {"question": "is 1 + 2 three?", "answer": "yes", "measured": "sum 3",
               "rule": "yes when the sum is 3", "thresholds": {"expected": 3.0}}
    return {"sum": 3, "quick": ctx.quick, "pythons": ctx.pythons, "verdicts": [verdict]}
def errors(results):
    return []
def measurement_count(results):
    return 1
def summarize(results):
    return [("sum", str(results["sum"]))]
def readme_sections(results):
    return {"figures": f"sum is {results['sum']}\\n\\n![plot](results/plot.png)"}
"""

FAILING_EXPERIMENT = """
TITLE = "always fails"
def run(ctx):
    raise RuntimeError("deliberate failure for the test")
def errors(results):
    return []
def measurement_count(results):
    return 1
"""

ERRORS_EXPERIMENT = """
TITLE = "returns, but a build failed"
def run(ctx):
    return {"builds": {"ours": "error: cargo exited 101"}, "verdicts": []}
def errors(results):
    return [f"{k}: {v}" for k, v in results["builds"].items()]
def measurement_count(results):
    return 2
"""

EMPTY_EXPERIMENT = """
TITLE = "measured nothing"
def run(ctx):
    return {"cells": [], "verdicts": []}
def errors(results):
    return []
def measurement_count(results):
    return len(results["cells"])
"""

NO_VERDICTS_EXPERIMENT = """
TITLE = "measures, but leaves the verdicts to its report"
def run(ctx):
    return {"n": 1, "verdicts": [{"question": "fast?", "answer": "yes"}]}
def errors(results):
    return []
def measurement_count(results):
    return 1
"""

UNJUDGED_EXPERIMENT = """
TITLE = "cannot be judged"
def run(ctx):
    return {"n": 1}
"""


def make_root(tmp_path: Path, experiments: dict[str, str]) -> dict[str, str]:
    for name, source in experiments.items():
        folder = tmp_path / name
        (folder / "results").mkdir(parents=True)
        (folder / "results" / "keep.txt").write_text("published before\n")
        (folder / "experiment.py").write_text(textwrap.dedent(source))
        (folder / "README.md").write_text(
            f"# {name}\n<!-- lab:begin figures -->\nold\n<!-- lab:end figures -->\n"
        )
    (tmp_path / "README.md").write_text(
        "# top\n<!-- lab:begin summary -->\n<!-- lab:end summary -->\n"
    )
    env = dict(os.environ)
    env["LAB_ROOT"] = str(tmp_path)
    env["LAB_EXPERIMENTS"] = ",".join(experiments)
    env["LAB_STATE_DIR"] = str(tmp_path / ".state")
    env["PYTHONPATH"] = str(ROOT)
    return env


def lab(*args: str, env: dict[str, str] | None = None, timeout: float = 90):
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_unknown_experiment_exits_2_and_lists_valid_names():
    result = lab("run", "no-such-experiment")
    assert result.returncode == 2
    assert "no such experiment: no-such-experiment" in result.stderr
    assert "tagflow-vs-jinja-benchmark" in result.stderr
    assert "dramatiq-memory-leak" in result.stderr


def test_unknown_flag_prints_usage():
    result = lab("run", "--bogus")
    assert result.returncode == 2
    assert "usage: lab run" in result.stderr
    assert "--bogus" in result.stderr


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("{tmp}/nope", "no such file"),
        ("/bin/true", "not a working Python 3 interpreter"),
        ("/etc/hostname", "/etc/hostname: "),
        ("no-such-command-xyz", "no such file"),
    ],
)
def test_a_python_that_does_not_run_is_a_usage_error(tmp_path, given, reason):
    env = make_root(tmp_path, {"good": OK_EXPERIMENT})
    result = lab("run", "--python", given.format(tmp=tmp_path), env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert reason in result.stderr
    assert not (tmp_path / "runs").exists()


def test_python_by_name_resolves_via_path(tmp_path):
    env = make_root(tmp_path, {"good": OK_EXPERIMENT})
    result = lab("run", "--python", "python3", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    rec = json.loads((tmp_path / "runs/good/latest/record.json").read_text())
    (used,) = rec["results"]["pythons"]
    assert os.path.isabs(used) and Path(used).name == "python3"


def test_list_shows_every_registered_experiment():
    result = lab("list")
    assert result.returncode == 0, result.stderr
    for name in ("tagflow-reimpl", "uvloop-updated", "hatchling-pyo3", "dramatiq-memory"):
        assert name in result.stdout


def test_status_is_honest_and_a_run_never_touches_tracked_files(tmp_path):
    experiments = {
        "good": OK_EXPERIMENT,
        "raises": FAILING_EXPERIMENT,
        "errors": ERRORS_EXPERIMENT,
        "empty": EMPTY_EXPERIMENT,
        "unjudged": UNJUDGED_EXPERIMENT,
        "no-verdicts": NO_VERDICTS_EXPERIMENT,
    }
    env = make_root(tmp_path, experiments)
    before = {n: tree(tmp_path / n) for n in experiments} | {"top": (tmp_path / "README.md")}
    before["top"] = before["top"].read_bytes()
    result = lab("run", env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    for reason in (
        "RuntimeError: deliberate failure for the test",
        "ours: error: cargo exited 101",
        "no successful measurement (measurement_count = 0)",
        "defines no errors(results)",
        "verdict 0 has no measured",
    ):
        assert reason in out

    # Nothing tracked changed: experiment folders and the top README are as they were.
    for name in experiments:
        assert tree(tmp_path / name) == before[name], name
    assert (tmp_path / "README.md").read_bytes() == before["top"]
    assert not (tmp_path / "results").exists()

    good = tmp_path / "runs/good/latest"
    rec = json.loads((good / "record.json").read_text())
    assert rec["schema_version"] == results.SCHEMA_VERSION
    assert rec["status"] == "ok" and rec["errors"] == []
    assert rec["results"]["quick"] is True and rec["mode"] == "quick"
    assert rec["summary"] == [["sum", "3"]]
    assert sorted(rec["artifacts"]) == ["numbers.csv", "plot.png"]
    assert (good / "numbers.csv").read_text() == "a,b\n1,2\n"
    for key in ("cpu_model", "cpu_count", "kernel", "memory_bytes", "git", "command_line"):
        assert key in rec["environment"]
    assert rec["load"]["other_per_core"] is not None

    for name in ("raises", "errors", "empty", "unjudged", "no-verdicts"):
        assert not (tmp_path / f"runs/{name}/latest").exists(), name
        (failed,) = (tmp_path / f"runs/{name}").glob("*.failed")
        frec = json.loads((failed / "record.json").read_text())
        assert frec["status"] == "failed" and frec["errors"], name
    raises = next((tmp_path / "runs/raises").glob("*.failed"))
    assert "Traceback" in json.loads((raises / "record.json").read_text())["traceback"]

    # The local report links the run's files; it embeds nothing.
    index = (tmp_path / "runs/index.html").read_text()
    assert "sum is 3" in index and "data:image" not in index
    assert f'src="good/{good.resolve().name}/plot.png"' in index


def test_stamps_are_unique_below_one_second():
    stamps = {results.utc_stamp() for _ in range(2000)}
    assert len(stamps) > 1000  # microsecond resolution
    assert sorted(stamps) == sorted(stamps, key=lambda s: s.replace(".", ""))


def test_back_to_back_runs_get_their_own_folders(tmp_path):
    env = make_root(tmp_path, {"good": OK_EXPERIMENT})
    for _ in range(2):
        assert lab("run", "good", env=env).returncode == 0
    runs = [p for p in (tmp_path / "runs/good").iterdir() if not p.is_symlink()]
    assert len(runs) == 2


def test_the_loader_refuses_unknown_schema_versions(tmp_path):
    path = tmp_path / "published.json"
    path.write_text(json.dumps({"schema_version": 999, "status": "ok"}))
    with pytest.raises(results.RecordError, match="schema_version 999 is not 2"):
        results.load(path)
    path.write_text(json.dumps({"status": "ok"}))  # the old, unversioned layout
    with pytest.raises(results.RecordError, match="schema_version None"):
        results.load(path)


def test_marker_replacement_only_touches_named_sections():
    text = (
        "intro\n<!-- lab:begin a -->\nold a\n<!-- lab:end a -->\n"
        "middle\n<!-- lab:begin b -->\nold b\n<!-- lab:end b -->\n"
    )
    new, done = replace_sections(text, {"a": "new a"})
    assert done == ["a"]
    assert "new a" in new and "old a" not in new and "old b" in new
    assert new.startswith("intro\n") and "middle\n" in new


@pytest.mark.parametrize("bad", ["", "no markers here"])
def test_marker_replacement_without_markers_changes_nothing(bad):
    assert replace_sections(bad, {"a": "x"}) == (bad, [])
