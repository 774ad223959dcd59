"""Profile likelihood and a report of practically non-identifiable parameters.

The profile of parameter ``i`` is ``min over the others of the objective`` with ``theta_i`` held
at each grid value. All grid points of a profile are optimised together as one batch of the
bounded Levenberg-Marquardt (one batched simulation per iteration), each warm-started from the
MAP. A parameter is *practically non-identifiable* when the profile does not rise by
``chi2_1(level)/2`` (1.92 for 95 %) above the MAP on one or both sides within its bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import FitError
from ._optimize import FitResult, least_squares_batch
from ._problem import CalibrationProblem

__all__ = ["Profile", "identifiability_report", "profile"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, eq=False)
class Profile:
    """A profile of one parameter.

    Attributes
    ----------
    parameter : str
        The profiled parameter.
    table : pandas.DataFrame
        One row per grid point: ``theta`` (estimation scale), ``value`` (natural),
        ``objective``, ``delta`` (objective minus the MAP's), ``converged``, and the other
        parameters' optimised values (natural scale).
    threshold : float
        ``chi2_1(level) / 2``.
    lower, upper : float
        Confidence bounds (natural scale) where the profile crosses the threshold, ``nan`` when
        it does not within the bounds.
    """

    parameter: str
    table: pd.DataFrame
    threshold: float
    lower: float
    upper: float

    @property
    def identifiable(self) -> bool:
        """Whether the profile crosses the threshold on both sides."""
        return bool(np.isfinite(self.lower) and np.isfinite(self.upper))


def _grid(center: float, lo: float, hi: float, sd: float, points: int) -> Array:
    sides = []
    for bound, sgn in ((lo, -1.0), (hi, 1.0)):
        dist = abs(bound - center)
        if dist <= 1e-12:
            sides.append(np.zeros(0))
            continue
        first = min(0.25 * sd, dist / points) if np.isfinite(sd) and sd > 0 else dist / points
        first = max(first, 1e-6)
        offs = np.geomspace(first, dist, points) if dist > first else np.array([dist])
        sides.append(center + sgn * offs)
    return np.concatenate([sides[0][::-1], [center], sides[1]])


def profile(
    problem: CalibrationProblem,
    fit_result: FitResult,
    parameter: str,
    *,
    points: int = 10,
    level: float = 0.95,
    max_iter: int = 100,
) -> Profile:
    """The profile of ``parameter`` (``points`` grid points on each side of the MAP).

    Grid points are spaced geometrically from a quarter of the Laplace standard deviation out to
    the bounds, so that each profile reaches the bounds.
    """
    if parameter not in problem.names:
        raise FitError(
            f"profile: '{parameter}' is not estimated (estimated: {list(problem.names)})"
        )
    if points < 2:
        raise FitError("profile: points must be >= 2")
    i = problem.names.index(parameter)
    lo, hi = problem.bounds
    th = np.asarray(fit_result.theta, dtype=float)
    J = fit_result.jacobian
    try:
        var = float(np.linalg.inv(J.T @ J)[i, i])
    except np.linalg.LinAlgError:
        var = float("inf")
    sd = math.sqrt(var) if math.isfinite(var) and var > 0 else float("inf")
    grid = _grid(float(th[i]), float(lo[i]), float(hi[i]), sd, points)
    start = np.tile(th, (grid.size, 1))
    start[:, i] = grid
    fixed = np.zeros_like(start, dtype=bool)
    fixed[:, i] = True
    ls = least_squares_batch(problem, start, fixed=fixed, max_iter=max_iter)
    obj = ls.objective
    best = min(float(fit_result.objective), float(np.min(obj)))
    delta = obj - best
    thr = float(stats.chi2.ppf(level, 1) / 2.0)
    nat = problem.to_natural(ls.theta)
    table = pd.DataFrame(
        {
            "theta": grid,
            "value": nat[:, i],
            "objective": obj,
            "delta": delta,
            "converged": ls.converged,
        }
    )
    for j, n in enumerate(problem.names):
        if j != i:
            table[n] = nat[:, j]
    c = int(np.argmin(np.abs(grid - th[i])))

    def crossing(side: Array) -> float:
        prev = c
        for j in side:
            if delta[j] >= thr:
                d0, d1 = delta[prev], delta[j]
                w = (thr - d0) / (d1 - d0) if d1 != d0 else 1.0
                t = grid[prev] + w * (grid[j] - grid[prev])
                return float(problem.to_natural(np.where(np.arange(th.size) == i, t, th))[i])
            prev = j
        return float("nan")

    lower = crossing(np.arange(c - 1, -1, -1))
    upper = crossing(np.arange(c + 1, grid.size))
    return Profile(parameter=parameter, table=table, threshold=thr, lower=lower, upper=upper)


def identifiability_report(
    problem: CalibrationProblem,
    fit_result: FitResult,
    parameters: Sequence[str] | None = None,
    *,
    points: int = 10,
    level: float = 0.95,
) -> pd.DataFrame:
    """Profile each parameter and list which are practically non-identifiable.

    Returns a table indexed by parameter with ``estimate``, ``lower``, ``upper`` (profile
    confidence bounds at ``level``, ``nan`` where not reached within the bounds),
    ``identifiable`` and ``reason``.
    """
    names = list(parameters) if parameters is not None else list(problem.names)
    rows = []
    for n in names:
        p = profile(problem, fit_result, n, points=points, level=level)
        reasons = []
        if not np.isfinite(p.lower):
            reasons.append("profile flat towards the lower bound")
        if not np.isfinite(p.upper):
            reasons.append("profile flat towards the upper bound")
        rows.append(
            {
                "parameter": n,
                "estimate": fit_result.estimates[n],
                "lower": p.lower,
                "upper": p.upper,
                "identifiable": p.identifiable,
                "reason": "; ".join(reasons),
            }
        )
    return pd.DataFrame(rows).set_index("parameter")
