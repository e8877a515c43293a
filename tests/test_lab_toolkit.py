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
