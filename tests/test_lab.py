"""The lab CLI: bad input, failure isolation, results files, reports, Ctrl-C cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from lab.report import replace_sections

OK_EXPERIMENT = """
TITLE = "adds numbers"
ISSUE = 99
def run(ctx):
    ctx.progress.set_total(2)
    ctx.progress.advance()
    ctx.progress.advance(note="done")
    (ctx.out / "numbers.csv").write_text("a,b\\n1,2\\n")
    ctx.artifact(ctx.out / "numbers.csv")
    return {"sum": 3, "quick": ctx.quick}
def summarize(results):
    return [("sum", str(results["sum"]))]
def readme_sections(results):
    return {"figures": f"sum is {results['sum']}"}
"""

FAILING_EXPERIMENT = """
TITLE = "always fails"
def run(ctx):
    raise RuntimeError("deliberate failure for the test")
"""

SLEEPING_EXPERIMENT = """
import sys, time
TITLE = "starts a child and waits"
def run(ctx):
    child = ctx.procs.popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (ctx.out / "child.pid").write_text(str(child.pid))
    time.sleep(600)
    return {}
"""

UNBUILT_EXPERIMENT = """
TITLE = "not there yet"
IMPLEMENTED = False
"""


def make_root(tmp_path: Path, experiments: dict[str, str]) -> dict[str, str]:
    for name, source in experiments.items():
        folder = tmp_path / name
        (folder / "results").mkdir(parents=True)
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
    return env


def lab(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


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


def test_bad_python_path_is_rejected(tmp_path):
    result = lab("run", "--python", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "not an executable file" in result.stderr


def test_list_shows_every_registered_experiment():
    result = lab("list")
    assert result.returncode == 0, result.stderr
    for name in ("tagflow-reimpl", "uvloop-updated", "hatchling-pyo3", "dramatiq-memory"):
        assert name in result.stdout


def test_failure_is_isolated_and_reported(tmp_path):
    env = make_root(
        tmp_path, {"good": OK_EXPERIMENT, "bad": FAILING_EXPERIMENT, "later": UNBUILT_EXPERIMENT}
    )
    result = lab("run", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "deliberate failure for the test" in result.stdout
    assert "not built" in result.stdout

    latest = json.loads((tmp_path / "good/results/latest.json").read_text())
    assert latest["status"] == "ok"
    assert latest["results"] == {"sum": 3, "quick": True}
    assert latest["summary"] == [["sum", "3"]]
    assert latest["artifacts"] == ["numbers.csv"]
    env_rec = latest["environment"]
    for key in ("cpu_model", "cpu_count", "kernel", "memory_bytes", "git", "command_line"):
        assert key in env_rec
    assert env_rec["lab_python"]["version"].startswith(f"{sys.version_info[0]}.")
    assert "config_args" in env_rec["pythons"][0]

    # The failed run is kept with its traceback but does not become "latest".
    assert not (tmp_path / "bad/results/latest.json").exists()
    (failed,) = (tmp_path / "bad/results").glob("2*.json")
    rec = json.loads(failed.read_text())
    assert rec["status"] == "failed"
    assert "RuntimeError: deliberate failure" in rec["error"]
    assert "Traceback" in rec["traceback"]

    # Reports were regenerated from stored results.
    assert "sum is 3" in (tmp_path / "good/README.md").read_text()
    index = (tmp_path / "results/index.html").read_text()
    assert "sum is 3" in index and "not built yet" in index
    assert "| [good](good/) | ok |" in (tmp_path / "README.md").read_text()


def test_full_mode_is_recorded(tmp_path):
    env = make_root(tmp_path, {"good": OK_EXPERIMENT})
    assert lab("run", "good", "--full", env=env).returncode == 0
    latest = json.loads((tmp_path / "good/results/latest.json").read_text())
    assert latest["mode"] == "full" and latest["results"]["quick"] is False


def test_ctrl_c_stops_quickly_and_leaves_no_children(tmp_path):
    env = make_root(tmp_path, {"sleepy": SLEEPING_EXPERIMENT})
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = tmp_path / "sleepy/results/child.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists():
        assert time.monotonic() < deadline, "experiment never started its child"
        time.sleep(0.05)
    child_pid = int(pid_file.read_text())
    assert psutil.pid_exists(child_pid)

    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 130, out + err
    assert "interrupted" in out + err
    gone = time.monotonic() + 5
    while psutil.pid_exists(child_pid) and psutil.Process(child_pid).status() != "zombie":
        assert time.monotonic() < gone, "child process survived Ctrl-C"
        time.sleep(0.05)


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


BROKEN_REPORT_EXPERIMENT = """
TITLE = "results fine, report broken"
def run(ctx):
    return {"n": 1}
def summarize(results):
    return [("n", "1")]
def readme_sections(results):
    return {"figures": results["missing-key"]}
"""


def test_report_survives_an_experiment_whose_sections_fail(tmp_path):
    env = make_root(tmp_path, {"good": OK_EXPERIMENT, "broken": BROKEN_REPORT_EXPERIMENT})
    result = lab("run", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOT updated broken/README.md" in result.stdout
    assert "KeyError" in result.stdout
    assert "sum is 3" in (tmp_path / "good/README.md").read_text()
    assert "old" in (tmp_path / "broken/README.md").read_text()
    assert "readme_sections() failed" in (tmp_path / "results/index.html").read_text()
