"""Maximum a posteriori by multi-start, batched Levenberg-Marquardt with bounds.

All starts of one group advance together (:func:`~._lm.least_squares_batch`: one batched
simulation per iteration). The groups run on an engine (:mod:`immunetwin.engine`): one group on
a one-worker engine (the default), one group per worker otherwise.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import qmc

from ..engine import AbstractEngine, EngineOptions, SerialEngine, using_engine
from ..errors import FitError
from ._lm import _LSResult, _projected_gradient, least_squares_batch
from ._priors import GaussianPrior
from ._problem import CalibrationProblem

__all__ = ["FitOptions", "FitResult", "fit", "least_squares_batch", "start_points"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class FitOptions:
    """Options of :func:`fit`.

    Attributes
    ----------
    start_method : "auto", "lhs" or "prior"
        Where starts come from: a Latin hypercube over the bounds (estimation scale), draws from
        the prior (flat parameters from the hypercube), or ``"auto"`` (prior when every parameter
        has a proper prior, else the hypercube).
    include_nominal : bool
        Use the model's nominal values as the first start.
    max_iter : int
        Maximum iterations per start.
    ftol, xtol, gtol : float
        Convergence tolerances: relative decrease of the sum of squares, step size on the
        estimation scale, and the inf-norm of the projected gradient.
    best_tol : float
        Starts within this of the best objective count as having found it.
    bound_tol : float
        An estimate closer than this (fraction of the estimation-scale range) to a bound is
        reported as at the bound.
    """

    start_method: Literal["auto", "lhs", "prior"] = "auto"
    include_nominal: bool = False
    max_iter: int = 200
    ftol: float = 1e-8
    xtol: float = 1e-9
    gtol: float = 1e-6
    best_tol: float = 1e-3
    bound_tol: float = 1e-3


@dataclass(frozen=True, eq=False)
class FitResult:
    """The outcome of :func:`fit` (immutable).

    Attributes
    ----------
    problem : CalibrationProblem
        The problem that was fitted.
    theta : numpy.ndarray
        The MAP on the estimation scale, shape ``(k,)`` (read-only).
    estimates : dict[str, float]
        The MAP by parameter id on the natural scale.
    objective : float
        Negative log posterior (on the estimation scale) at the MAP.
    starts : pandas.DataFrame
        One row per start: ``start``, ``objective``, ``converged``, ``iterations``,
        ``message``, and the start and end values (``start_<id>``, ``<id>``) natural scale.
    converged : bool
        Whether the best start converged.
    n_at_best : int
        Starts whose objective is within ``best_tol`` of the best.
    gradient_norm : float
        Inf-norm of the projected gradient at the MAP.
    at_bounds : tuple of str
        Parameters whose MAP is at a bound.
    warnings : tuple of str
        Messages (parameters at bounds, unconverged best start, ...).
    jacobian : numpy.ndarray
        Residual Jacobian at the MAP (read-only), ``(R, k)``.
    residuals : numpy.ndarray
        Residuals at the MAP (read-only), ``(R,)``.
    wall_time : float
        Seconds.
    summary : dict
        The problem's summary.
    """

    problem: CalibrationProblem
    theta: Array
    estimates: dict[str, float]
    objective: float
    starts: pd.DataFrame
    converged: bool
    n_at_best: int
    gradient_norm: float
    at_bounds: tuple[str, ...]
    warnings: tuple[str, ...]
    jacobian: Array
    residuals: Array
    wall_time: float
    summary: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("theta", "jacobian", "residuals"):
            a = np.array(getattr(self, name), dtype=float)
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def names(self) -> tuple[str, ...]:
        """Estimated parameter ids."""
        return self.problem.names

    def to_frame(self) -> pd.DataFrame:
        """Estimates as a table: ``parameter``, ``estimate``, ``theta``, ``log_scale``, ``at_bound``."""
        return pd.DataFrame(
            {
                "parameter": list(self.names),
                "estimate": [self.estimates[n] for n in self.names],
                "theta": self.theta,
                "log_scale": [self.problem.log_scale[n] for n in self.names],
                "at_bound": [n in self.at_bounds for n in self.names],
            }
        )

    def __repr__(self) -> str:
        est = ", ".join(f"{k}={v:.4g}" for k, v in self.estimates.items())
        return (
            f"FitResult(objective={self.objective:.6g}, converged={self.converged}, "
            f"at_best={self.n_at_best}/{len(self.starts)}, {est})"
        )


def start_points(
    problem: CalibrationProblem,
    n: int,
    rng: np.random.Generator,
    method: Literal["auto", "lhs", "prior"] = "auto",
) -> Array:
    """``n`` starting points on the estimation scale (Latin hypercube or prior draws)."""
    lo, hi = problem.bounds
    k = problem.n_parameters
    u = qmc.LatinHypercube(d=k, seed=rng).random(n) if n > 0 else np.zeros((0, k))
    pts = lo + u * (hi - lo)
    priors = problem.priors
    gauss = problem.gaussian_prior
    covered = set(priors) | (set(gauss.names) if gauss is not None else set())
    use_prior = method == "prior" or (method == "auto" and covered >= set(problem.names))
    if not use_prior or n == 0:
        return np.asarray(pts)
    names = problem.names
    logs = problem.log_scale
    for name, pr in priors.items():
        if gauss is not None and name in gauss.names:
            continue
        i = names.index(name)
        if pr.kind == "normal":
            x = rng.normal(pr.a, pr.b, n)
            if logs[name]:
                x = np.log(np.maximum(x, math.exp(lo[i])))
        elif pr.kind == "lognormal":
            x = rng.normal(pr.a, pr.b, n)
            if not logs[name]:
                x = np.exp(x)
        else:
            continue  # uniform kinds: the hypercube is already uniform on the box
        pts[:, i] = x
    if gauss is not None:
        cols = [names.index(g) for g in gauss.names]
        mean = np.asarray([gauss.mean[g] for g in gauss.names])
        pts[:, cols] = rng.multivariate_normal(mean, gauss.cov.to_numpy(), n)
    return np.asarray(np.clip(pts, lo, hi))


def fit(
    problem: CalibrationProblem,
    *,
    starts: int = 20,
    seed: int | np.random.Generator | None = None,
    options: FitOptions | None = None,
    initial: Array | Mapping[str, float] | None = None,
    prior: GaussianPrior | None = None,
    engine: AbstractEngine | EngineOptions | str | None = None,
) -> FitResult:
    """Maximum a posteriori estimate by multi-start batched Levenberg-Marquardt.

    Parameters
    ----------
    problem
        The calibration problem.
    starts
        Number of random starts (Latin hypercube / prior draws).
    seed
        Random seed or generator.
    options
        :class:`FitOptions`.
    initial
        Extra starting point(s): natural values by id, or estimation-scale rows ``(m, k)``.
    prior
        A Gaussian prior on the estimation scale that replaces the problem's priors of those
        parameters (shortcut for ``problem.with_prior(prior, keep_univariate=True)``).
    engine
        Where the starts run: an engine, :class:`~immunetwin.engine.EngineOptions` or their
        short text form (:mod:`immunetwin.engine`; default
        :func:`~immunetwin.engine.default_engine`, serial unless ``$IMMUNETWIN_ENGINE`` says
        otherwise). A one-worker engine advances all starts together in one batch; an engine
        with ``w`` workers runs ``w`` groups of starts, each a batch of its own.

    Raises
    ------
    FitError
        If no start could be simulated.
    """
    opts = options or FitOptions()
    if prior is not None:
        problem = problem.with_prior(prior, keep_univariate=True)
    if starts < 0:
        raise FitError("fit: starts must be >= 0")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    t_start = time.perf_counter()
    theta0 = _initial_points(problem, starts, rng, opts, initial)
    with using_engine(engine) as eng:
        ls = run_starts(problem, theta0, opts, eng)
    return _fit_result(problem, theta0, ls, opts, t_start)


def _initial_points(
    problem: CalibrationProblem,
    starts: int,
    rng: np.random.Generator,
    opts: FitOptions,
    initial: Array | Mapping[str, float] | None,
) -> Array:
    """The starting points: given ones first, then random starts that can be simulated."""
    pts = [start_points(problem, starts, rng, opts.start_method)]
    if opts.include_nominal:
        pts.insert(0, problem.nominal[None, :])
    if initial is not None:
        if isinstance(initial, Mapping):
            pts.insert(0, problem.to_theta(initial)[None, :])
        else:
            arr = np.atleast_2d(np.asarray(initial, dtype=float))
            if arr.shape[1] != problem.n_parameters:
                raise FitError(
                    f"fit: initial has {arr.shape[1]} columns, expected {problem.n_parameters}"
                )
            pts.insert(0, arr)
    theta0: Array = np.concatenate(pts, axis=0)
    if theta0.shape[0] == 0:
        raise FitError("fit: no starting points (starts=0 and no initial)")
    lo, hi = problem.bounds
    theta0 = np.asarray(np.clip(theta0, lo, hi))
    # replace random starts that cannot be simulated (a few batched redraws)
    n_fixed = theta0.shape[0] - starts
    for _ in range(5):
        bad = ~problem.residuals(theta0, jacobian=False).ok
        bad[:n_fixed] = False
        if not bad.any():
            break
        theta0[bad] = start_points(problem, int(bad.sum()), rng, opts.start_method)
    return theta0


def _fit_result(
    problem: CalibrationProblem,
    theta0: Array,
    ls: _LSResult,
    opts: FitOptions,
    t_start: float,
) -> FitResult:
    """Assemble the :class:`FitResult` from the per-start results."""
    obj = ls.objective
    if not np.any(np.isfinite(obj)):
        raise FitError(
            f"fit of '{problem.model.id}' (subject '{problem.subject}'): every start failed to simulate"
        )
    best = int(np.nanargmin(np.where(np.isfinite(obj), obj, np.nan)))
    names = problem.names
    lo, hi = problem.bounds
    nat0 = problem.to_natural(theta0)
    nat = problem.to_natural(ls.theta)
    table: dict[str, Any] = {
        "start": np.arange(theta0.shape[0]),
        "objective": obj,
        "converged": ls.converged,
        "iterations": ls.iterations,
        "message": ls.messages,
    }
    for j, n in enumerate(names):
        table[f"start_{n}"] = nat0[:, j]
    for j, n in enumerate(names):
        table[n] = nat[:, j]
    frame = pd.DataFrame(table)
    th = ls.theta[best]
    rng_width = hi - lo
    at_lo = th - lo <= opts.bound_tol * rng_width
    at_hi = hi - th <= opts.bound_tol * rng_width
    at_bounds = tuple(n for n, a, b in zip(names, at_lo, at_hi, strict=True) if a or b)
    warns: list[str] = []
    for n, a, b in zip(names, at_lo, at_hi, strict=True):
        if a or b:
            side = "lower" if a else "upper"
            val = nat[best, names.index(n)]
            warns.append(f"'{n}' is at its {side} bound ({val:.4g}); widen the bound or fix it")
    n_at_best = int(np.sum(np.abs(obj - obj[best]) <= opts.best_tol))
    if not ls.converged[best]:
        warns.append(f"the best start did not converge: {ls.messages[best]}")
    if n_at_best < 2 and theta0.shape[0] > 1:
        warns.append("only one start reached the best objective; use more starts")
    r_best, j_best = ls.r[best], ls.jac[best]
    assert r_best is not None and j_best is not None
    g_best = _projected_gradient(
        (r_best @ j_best)[None, :], th[None, :], lo, hi, np.zeros((1, len(names)), dtype=bool)
    )[0]
    return FitResult(
        problem=problem,
        theta=th,
        estimates={n: float(v) for n, v in zip(names, nat[best], strict=True)},
        objective=float(obj[best]),
        starts=frame,
        converged=bool(ls.converged[best]),
        n_at_best=n_at_best,
        gradient_norm=float(np.max(np.abs(g_best))),
        at_bounds=at_bounds,
        warnings=tuple(warns),
        jacobian=j_best,
        residuals=r_best,
        wall_time=time.perf_counter() - t_start,
        summary=problem.summary(),
    )


# ---------------------------------------------------------------------- starts on an engine
@dataclass(frozen=True)
class _StartGroup:
    """One engine task: a group of starts of one problem."""

    problem: CalibrationProblem
    theta0: Array
    options: FitOptions


def _run_group(task: _StartGroup) -> _LSResult:
    o = task.options
    return least_squares_batch(
        task.problem, task.theta0, max_iter=o.max_iter, ftol=o.ftol, xtol=o.xtol, gtol=o.gtol
    )


_MERGED_MSG = re.compile(r"^reached the optimum of start (\d+)$")


def _join(parts: list[_LSResult], offsets: list[int]) -> _LSResult:
    """One result from the groups' results (start numbers in messages made global)."""
    msgs: list[str] = []
    for part, off in zip(parts, offsets, strict=True):
        for m in part.messages:
            hit = _MERGED_MSG.match(m)
            msgs.append(f"reached the optimum of start {int(hit.group(1)) + off}" if hit else m)
    return _LSResult(
        theta=np.concatenate([p.theta for p in parts]),
        cost=np.concatenate([p.cost for p in parts]),
        objective=np.concatenate([p.objective for p in parts]),
        r=[r for p in parts for r in p.r],
        jac=[j for p in parts for j in p.jac],
        converged=np.concatenate([p.converged for p in parts]),
        iterations=np.concatenate([p.iterations for p in parts]),
        messages=msgs,
        gnorm=np.concatenate([p.gnorm for p in parts]),
        evaluations=sum(p.evaluations for p in parts),
    )


def run_starts(
    problem: CalibrationProblem, theta0: Array, opts: FitOptions, engine: AbstractEngine
) -> _LSResult:
    """Run the starts ``theta0`` as one batch (one worker) or one group per worker."""
    n = theta0.shape[0]
    groups = min(engine.workers, n)
    if groups <= 1:
        task = _StartGroup(problem, theta0, opts)
        if isinstance(engine, SerialEngine):  # in this process: errors as they are
            return _run_group(task)
        return engine.map(_run_group, [task])[0]
    rows = np.array_split(np.arange(n), groups)
    tasks = [_StartGroup(problem, theta0[r], opts) for r in rows]
    parts = engine.map(_run_group, tasks, chunksize=1)
    return _join(parts, [int(r[0]) for r in rows])
