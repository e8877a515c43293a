"""Statistics the experiments share: one geometric mean, medians with their spread.

One behaviour everywhere: a summary of no values, or a geometric mean over a value that is not
a positive finite number, is an error (``ValueError``), never a silently shrunken average. A
caller with incomplete data decides, visibly, what to show instead (usually "–").
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable


def geometric_mean(values: Iterable[float]) -> float:
    """The geometric mean of positive, finite values (``statistics.geometric_mean``).

    Raises ValueError for no values, or for a zero, negative, NaN, infinite or None value:
    dropping those would report a different set of cells than the one asked for.
    """
    vals = list(values)
    if not vals:
        raise ValueError("geometric mean of no values")
    for v in vals:
        if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"geometric mean needs positive finite values, got {v!r}")
    return statistics.geometric_mean(vals)


def median_spread(values: Iterable[float]) -> dict[str, float]:
    """Median, minimum and maximum of a sample (ValueError for an empty one)."""
    vals = sorted(values)
    if not vals:
        raise ValueError("median of no values")
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1], "n": len(vals)}
