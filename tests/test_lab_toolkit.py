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


def test_paired_ratio_interval_brackets_the_true_ratio_and_shows_a_difference():
    import random

    from lab.stats import direction, ratio_interval

    rng = random.Random(1)
    base = [rng.uniform(90, 110) for _ in range(12)]  # round-to-round drift, shared by both
    fast = [b * 1.5 * rng.uniform(0.97, 1.03) for b in base]
    iv = ratio_interval(fast, base)
    assert 1.45 < iv.low < iv.value < iv.high < 1.55
    assert iv.excludes(1.0) and not iv.excludes(1.5)
    assert direction(iv, above="uvloop faster", below="asyncio faster") == "uvloop faster"
    inverse = ratio_interval(base, fast)
    assert direction(inverse, above="uvloop faster", below="asyncio faster") == "asyncio faster"


def test_noise_without_an_effect_gives_no_verdict():
    import random

    from lab.stats import direction, ratio_interval

    rng = random.Random(2)
    a = [rng.uniform(80, 120) for _ in range(10)]
    b = [rng.uniform(80, 120) for _ in range(10)]
    iv = ratio_interval(a, b, paired=False)
    assert iv.low < 1.0 < iv.high
    assert direction(iv, above="a faster", below="b faster") == "no difference shown"


def test_geometric_mean_interval_combines_cells():
    from lab.stats import geometric_mean_interval

    iv = geometric_mean_interval([[2.0, 2.1, 1.9, 2.0], [8.0, 8.2, 7.8, 8.1]])
    assert iv.value == pytest.approx(4.0, rel=0.02)
    assert 3.7 < iv.low < iv.value < iv.high < 4.3
    same = geometric_mean_interval([[2.0, 2.0], [8.0, 8.0]])  # no spread: a point interval
    assert (same.low, same.high) == (pytest.approx(4.0), pytest.approx(4.0))


@pytest.mark.parametrize("bad", [[1.0], [1.0, 0.0], [1.0, math.nan]])
def test_intervals_refuse_too_little_or_invalid_data(bad):
    from lab.stats import geometric_mean_interval, ratio_interval

    with pytest.raises(ValueError):
        ratio_interval(bad, [1.0] * len(bad))
    with pytest.raises(ValueError):
        geometric_mean_interval([bad])
    with pytest.raises(ValueError, match="differ in length"):
        ratio_interval([1.0, 2.0], [1.0, 2.0, 3.0])
