"""Scores of probabilistic forecasts against (possibly censored) observations.

All on the scale the analyte is scored on. For a censored observation ("negative": the true
value lies beyond the limit ``L``):

* an interval *covers* it when it reaches beyond the limit (left-censored: ``q_low <= L``;
  right-censored: ``q_high >= L``; interval-censored: the two intervals overlap);
* the absolute error of the median forecast is its distance to the censored region (0 when the
  median lies in it: a forecast below the limit for a negative is right);
* the CRPS is that of the forecast censored at the limit against the limit (the censored CRPS,
  proper for censored outcomes): draws are clipped to ``L`` and compared with ``L``.

Detected observations are scored on what the assay can report: the validation clips the
predictive draws of a detected observation at the data set's detection limit (a forecast beyond
the limit would have been reported as negative; e.g. Ct draws of 60 count as "Ct > 40"). Clipping
is monotone, so the quantiles are the clipped quantiles.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["abs_error", "covers", "crps_sample"]

Array = np.ndarray[Any, Any]


def crps_sample(draws: Array, y: float) -> float:
    """Sample CRPS ``E|X - y| - 0.5 E|X - X'|`` (sorted-sample formula, O(n log n))."""
    x = np.sort(np.asarray(draws, dtype=float)[np.isfinite(draws)])
    n = x.size
    if n == 0 or not math.isfinite(y):
        return math.nan
    term1 = float(np.mean(np.abs(x - y)))
    i = np.arange(1, n + 1)
    term2 = float(np.sum((2 * i - n - 1) * x)) / (n * n)
    return term1 - term2


def censored_draws(draws: Array, censoring: str, lower: float, upper: float) -> tuple[Array, float]:
    """Draws and observation for the censored CRPS (clipped at the limit)."""
    d = np.asarray(draws, dtype=float)
    if censoring == "left":
        return np.maximum(d, lower), lower
    if censoring == "right":
        return np.minimum(d, lower), lower
    if censoring == "interval":
        mid = 0.5 * (lower + upper)
        return np.clip(d, lower, upper), mid
    raise ValueError(censoring)


def score_crps(draws: Array, value: float, censoring: str, lower: float, upper: float) -> float:
    """CRPS of the predictive draws against an observation (censored: see the module doc)."""
    if censoring == "none":
        return crps_sample(draws, value)
    d, y = censored_draws(draws, censoring, lower, upper)
    return crps_sample(d, y)


def covers(
    q_low: float, q_high: float, value: float, censoring: str, lower: float, upper: float
) -> bool:
    """Whether the interval ``[q_low, q_high]`` is consistent with the observation."""
    if censoring == "none":
        return bool(q_low <= value <= q_high)
    if censoring == "left":
        return bool(q_low <= lower)
    if censoring == "right":
        return bool(q_high >= lower)
    return bool(q_low <= upper and q_high >= lower)


def abs_error(median: float, value: float, censoring: str, lower: float, upper: float) -> float:
    """Absolute error of the median forecast (censored: distance to the censored region)."""
    if censoring == "none":
        return abs(median - value)
    if censoring == "left":
        return max(0.0, median - lower)
    if censoring == "right":
        return max(0.0, lower - median)
    return max(0.0, lower - median, median - upper)
