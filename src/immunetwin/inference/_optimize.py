"""Maximum a posteriori by multi-start, batched Levenberg-Marquardt with bounds.

All starts advance together: each iteration evaluates the residuals and their Jacobian (from
the engine's forward sensitivities) of every still-running start in ONE batched simulation, then
takes a damped Gauss-Newton step per start. Bounds are handled by an active set (a coordinate at
a bound whose gradient points outward is held) and by projecting the step onto the box.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import qmc

from ..errors import FitError
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


@dataclass(frozen=True)
class _LSResult:
    theta: Array  # (N, k)
    cost: Array  # (N,) 0.5*|r|^2
    objective: Array  # (N,)
    r: list[Array | None]
    jac: list[Array | None]
    converged: Array
    iterations: Array
    messages: list[str]
    gnorm: Array
    evaluations: int


def _projected_gradient(g: Array, th: Array, lo: Array, hi: Array, fixed: Array) -> Array:
    pg = g.copy()
    at_lo = th <= lo + 1e-12
    at_hi = th >= hi - 1e-12
    pg[(at_lo & (g > 0)) | (at_hi & (g < 0)) | fixed] = 0.0
    return pg


def least_squares_batch(
    problem: CalibrationProblem,
    theta0: Array,
    *,
    fixed: Array | None = None,
    max_iter: int = 200,
    ftol: float = 1e-8,
    xtol: float = 1e-9,
    gtol: float = 1e-6,
    prior: bool = True,
    max_step: float = 2.0,
    lam0: float = 1e-3,
    gtol_rel: float = 1e-5,
) -> _LSResult:
    """Minimise the objective of ``problem`` from each row of ``theta0`` at once.

    ``fixed`` (same shape, boolean) holds coordinates at their start values (profiles).
    A start converges when its projected gradient (inf-norm) falls below ``gtol``, or when a
    step decreases the objective by less than ``ftol`` (relative) or moves less than ``xtol``
    while the projected gradient is below ``max(gtol, gtol_rel * (1 + cost))``.
    Returns the per-start results; one batched simulation per iteration.
    """
    lo, hi = problem.bounds
    th = np.clip(np.atleast_2d(np.asarray(theta0, dtype=float)), lo, hi)
    N, k = th.shape
    fx = np.zeros((N, k), dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    res = problem.residuals(th, jacobian=True, prior=prior)
    evals = 1
    r_cur: list[Array | None] = [res.r[i] if res.ok[i] else None for i in range(N)]
    j_cur: list[Array | None] = [
        res.jac[i] if (res.ok[i] and res.jac is not None) else None for i in range(N)
    ]
    cost = np.where(res.ok, 0.5 * np.sum(res.r**2, axis=1), np.inf)
    const = res.const
    lam = np.full(N, float(lam0))
    nu = np.full(N, 2.0)
    active = np.isfinite(cost)
    converged = np.zeros(N, dtype=bool)
    merged = np.zeros(N, dtype=bool)
    iters = np.zeros(N, dtype=np.int64)
    msgs = ["" if active[i] else "simulation failed at the start" for i in range(N)]
    gnorm = np.full(N, np.inf)
    radius = np.full(N, float(max_step))
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        J = np.stack([j_cur[i] for i in idx])  # type: ignore[misc]
        r = np.stack([r_cur[i] for i in idx])  # type: ignore[misc]
        g = np.einsum("nr,nrk->nk", r, J)
        A = np.einsum("nrk,nrl->nkl", J, J)
        thi = th[idx]
        pg = _projected_gradient(g, thi, lo, hi, fx[idx])
        gnorm[idx] = np.max(np.abs(pg), axis=1)
        done = gnorm[idx] < gtol
        for m in np.flatnonzero(done).tolist():
            i = int(idx[m])
            active[i] = False
            converged[i] = True
            msgs[i] = "gradient below gtol"
        keep = ~done
        idx, J, r, g, A, thi, pg = (
            idx[keep],
            J[keep],
            r[keep],
            g[keep],
            A[keep],
            thi[keep],
            pg[keep],
        )
        if idx.size == 0:
            break
        free = (pg != 0.0) | ((g == 0.0) & ~fx[idx])
        diag = np.maximum(np.einsum("nkk->nk", A), 1e-12)
        M = A + (lam[idx, None] * diag)[:, :, None] * np.eye(k)[None]
        # hold the non-free coordinates
        Mf = np.where(free[:, :, None] & free[:, None, :], M, 0.0)
        Mf[:, np.arange(k), np.arange(k)] = np.where(free, np.einsum("nkk->nk", M), 1.0)
        gf = np.where(free, g, 0.0)
        try:
            step = -np.linalg.solve(Mf, gf[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -gf / np.einsum("nkk->nk", Mf)
        big = np.max(np.abs(step), axis=1)
        capped = big > radius[idx]
        step = step * np.minimum(1.0, radius[idx] / np.maximum(big, 1e-300))[:, None]
        new = np.clip(thi + step, lo, hi)
        d = new - thi
        pred = -(np.einsum("nk,nk->n", g, d) + 0.5 * np.einsum("nk,nkl,nl->n", d, A, d))
        res = problem.residuals(new, jacobian=True, prior=prior)
        evals += 1
        new_cost = np.where(res.ok, 0.5 * np.sum(res.r**2, axis=1), np.inf)
        for m, i_ in enumerate(idx):
            ii = int(i_)
            iters[ii] += 1
            small_step = float(np.max(np.abs(d[m]))) <= xtol * (1.0 + float(np.max(np.abs(thi[m]))))
            if new_cost[m] < cost[ii]:
                gain = cost[ii] - new_cost[m]  # > 0 here
                # gain ratio; a vanishing predicted decrease (or a gain beyond float range) is a
                # very good step, not an overflow
                rho = gain / pred[m] if pred[m] > gain * 1e-300 else math.inf
                decrease = cost[ii] - new_cost[m]
                th[ii] = new[m]
                cost[ii] = new_cost[m]
                r_cur[ii] = res.r[m]
                j_cur[ii] = res.jac[m] if res.jac is not None else None
                lam[ii] = lam[ii] * max(1.0 / 3.0, 1.0 - (2.0 * min(rho, 1.0) - 1.0) ** 3)
                nu[ii] = 2.0
                if capped[m] and rho > 0.5:
                    radius[ii] = min(2.0 * radius[ii], 4.0 * max_step)
                # a small decrease (or step) is convergence only where the gradient is small
                # too: a damped step in a narrow valley also decreases the objective little,
                # and stopping there reported far-from-optimal points as converged (Crauste)
                if (decrease <= ftol * (1.0 + cost[ii]) or small_step) and gnorm[ii] <= max(
                    gtol, gtol_rel * (1.0 + cost[ii])
                ):
                    active[ii] = False
                    converged[ii] = True
                    msgs[ii] = (
                        "objective change below ftol" if not small_step else "step below xtol"
                    )
            else:
                lam[ii] *= nu[ii]
                nu[ii] *= 2.0
                if capped[m]:
                    radius[ii] = max(0.5 * radius[ii], 0.25 * max_step)
                if small_step or lam[ii] > 1e12:
                    active[ii] = False
                    converged[ii] = bool(gnorm[ii] < 1e-3 * (1.0 + abs(cost[ii])))
                    msgs[ii] = "no further decrease (step too small)"
        # a start that has reached the optimum another start already converged to stops there
        # (same objective to 1e-6 and within 0.01 on the estimation scale): the rest of its
        # path would only polish a known answer
        done_idx = np.flatnonzero(converged & ~merged)
        if done_idx.size:
            for i_m in np.flatnonzero(active).tolist():
                for j_ in done_idx.tolist():
                    if (
                        abs(cost[i_m] - cost[j_]) <= 1e-6 * (1.0 + abs(cost[j_]))
                        and float(np.max(np.abs(th[i_m] - th[j_]))) <= 1e-2
                    ):
                        active[i_m] = False
                        converged[i_m] = True
                        merged[i_m] = True
                        msgs[i_m] = f"reached the optimum of start {j_}"
                        break
    for i_left in np.flatnonzero(active):
        msgs[int(i_left)] = f"maximum iterations ({max_iter}) reached"
    return _LSResult(
        theta=th,
        cost=cost,
        objective=cost + const,
        r=r_cur,
        jac=j_cur,
        converged=converged,
        iterations=iters,
        messages=msgs,
        gnorm=gnorm,
        evaluations=evals,
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
    theta0 = np.concatenate(pts, axis=0)
    if theta0.shape[0] == 0:
        raise FitError("fit: no starting points (starts=0 and no initial)")
    lo, hi = problem.bounds
    theta0 = np.clip(theta0, lo, hi)
    # replace random starts that cannot be simulated (a few batched redraws)
    n_fixed = theta0.shape[0] - starts
    for _ in range(5):
        bad = ~problem.residuals(theta0, jacobian=False).ok
        bad[:n_fixed] = False
        if not bad.any():
            break
        theta0[bad] = start_points(problem, int(bad.sum()), rng, opts.start_method)
    ls = least_squares_batch(
        problem, theta0, max_iter=opts.max_iter, ftol=opts.ftol, xtol=opts.xtol, gtol=opts.gtol
    )
    obj = ls.objective
    if not np.any(np.isfinite(obj)):
        raise FitError(
            f"fit of '{problem.model.id}' (subject '{problem.subject}'): every start failed to simulate"
        )
    best = int(np.nanargmin(np.where(np.isfinite(obj), obj, np.nan)))
    names = problem.names
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
