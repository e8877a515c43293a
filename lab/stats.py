"""Statistics the experiments share: one geometric mean, medians with their spread, and
bootstrap confidence intervals for ratios and geometric means of ratios.

One behaviour everywhere: a summary of no values, or a geometric mean over a value that is not
a positive finite number, is an error (``ValueError``), never a silently shrunken average. A
caller with incomplete data decides, visibly, what to show instead (usually "–").

Intervals come from ``scipy.stats.bootstrap`` (percentile method, fixed seed so a report is
reproducible from its stored samples). ``Interval.excludes(1.0)`` is the only test a verdict
such as "uvloop faster" may rest on; otherwise the answer is "no difference shown".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as _scipy_stats

CONFIDENCE = 0.95
RESAMPLES = 4000
SEED = 20261126


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


@dataclass(frozen=True)
class Interval:
    """An estimate with its bootstrap confidence interval."""

    value: float
    low: float
    high: float
    confidence: float = CONFIDENCE

    def excludes(self, x: float) -> bool:
        """True when ``x`` lies outside the interval (a difference is shown)."""
        return not (self.low <= x <= self.high)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


def _positive(name: str, values: Iterable[float]) -> list[float]:
    vals = list(values)
    if len(vals) < 2:
        raise ValueError(f"{name}: a confidence interval needs at least 2 values, got {len(vals)}")
    for v in vals:
        if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name}: needs positive finite values, got {v!r}")
    return vals


def _interval(samples: tuple[list[float], ...], statistic: Any, value: float) -> Interval:
    if all(len(set(s)) == 1 for s in samples):  # no spread: every resample gives the same value
        return Interval(value, value, value)
    res = _scipy_stats.bootstrap(
        tuple(np.asarray(s, dtype=float) for s in samples),
        statistic,
        vectorized=True,
        axis=-1,
        paired=False,
        n_resamples=RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        random_state=np.random.default_rng(SEED),
    )
    ci = res.confidence_interval
    return Interval(value, float(ci.low), float(ci.high))


def ratio_interval(
    numerator: Sequence[float], denominator: Sequence[float], *, paired: bool = True
) -> Interval:
    """How many times ``numerator`` is ``denominator``, with a 95 % bootstrap interval.

    ``paired`` (the default) is for samples measured side by side, interleaved: repetition i of
    both was taken in the same round, so the per-round ratios are the sample and the estimate is
    their geometric mean (round-to-round drift of the machine cancels). Unpaired samples give the
    ratio of medians, resampling each side independently.
    """
    a = _positive("numerator", numerator)
    b = _positive("denominator", denominator)
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        return _interval((ratios,), _gmean, geometric_mean(ratios))
    value = statistics.median(a) / statistics.median(b)

    def median_ratio(x: Any, y: Any, axis: int) -> Any:  # vectorised over resamples
        return np.median(x, axis=axis) / np.median(y, axis=axis)

    return _interval((a, b), median_ratio, value)


def geometric_mean_interval(cells: Sequence[Sequence[float]]) -> Interval:
    """Geometric mean over cells of each cell's ratio, with a 95 % bootstrap interval.

    Each inner sequence is one cell's per-repetition ratios (e.g. from paired rounds); the
    estimate is the geometric mean of the cells' geometric means, and the bootstrap resamples the
    repetitions inside every cell independently, so the interval reflects measurement noise in
    all cells (the set of cells is fixed by design, not a sample).
    """
    if not cells:
        raise ValueError("geometric mean of no cells")
    samples = tuple(_positive(f"cell {i}", c) for i, c in enumerate(cells))
    value = geometric_mean(geometric_mean(c) for c in samples)

    def statistic(*resampled: Any, axis: int) -> Any:  # vectorised over resamples
        return np.exp(np.mean([np.mean(np.log(r), axis=axis) for r in resampled], axis=0))

    return _interval(samples, statistic, value)


def _gmean(x: Any, axis: int = -1) -> Any:  # vectorised over resamples
    return np.exp(np.mean(np.log(x), axis=axis))


def direction(interval: Interval, *, above: str, below: str, at: float = 1.0) -> str:
    """A verdict that only names a winner when the interval excludes ``at``."""
    if not interval.excludes(at):
        return "no difference shown"
    return above if interval.low > at else below
