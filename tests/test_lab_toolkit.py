"""lab.stats and lab.tables: one geometric mean, one markdown table, one behaviour for bad input."""

from __future__ import annotations

import math

import pytest

from lab.stats import geometric_mean, median_spread


def test_geometric_mean_is_not_the_arithmetic_mean():
    assert geometric_mean([2, 8]) == pytest.approx(4.0)
    assert geometric_mean([1, 100]) == pytest.approx(10.0)
    assert geometric_mean(x for x in (0.5, 2.0)) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [[], [0.0, 2.0], [-1.0, 2.0], [math.nan], [math.inf], [None, 2]])
def test_geometric_mean_refuses_what_it_cannot_average(bad):
    with pytest.raises(ValueError):
        geometric_mean(bad)


def test_median_spread():
    assert median_spread([3, 1, 2, 10]) == {"median": 2.5, "min": 1, "max": 10, "n": 4}
    with pytest.raises(ValueError):
        median_spread([])


def test_markdown_table_escapes_and_aligns():
    from lab.tables import markdown

    assert markdown(["a", "b"], [["x|y", "1\n2"]], align="lr") == (
        "| a | b |\n|---|---:|\n| x\\|y | 1<br>2 |"
    )
    with pytest.raises(ValueError, match="row has 1 cells"):
        markdown(["a", "b"], [["only one"]])


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    from lab.results import atomic_write

    target = tmp_path / "published.json"
    atomic_write(target, "old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "new text that cannot be encoded: \udcff")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["published.json"]  # no temp file left


def test_a_child_dies_with_its_parent_even_after_kill_9(tmp_path):
    """ProcessGroup asks the kernel to kill each child when its parent dies (no watchdog here)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from lab.procs import ProcessGroup\n"
        "g = ProcessGroup()\n"
        "c = g.popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            with open(f"/proc/{child}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state == "Z":
            break
        assert time.monotonic() < deadline, "the child outlived its parent's kill -9"
        time.sleep(0.05)
