"""Uncertainty: the Laplace approximation and a batched ensemble sampler.

:func:`laplace` approximates the posterior by a Gaussian on the estimation scale around the MAP,
with the Hessian from central differences of the analytic gradient (one batched simulation of
``2k`` points) or the Gauss-Newton matrix ``J^T J``.

:func:`sample` runs ``chains`` independent ensembles of ``walkers`` walkers; every move of every
walker of every ensemble is evaluated in one batched simulation. It alternates the affine-invariant
stretch move (Goodman & Weare 2010) with independence proposals from a multivariate t fitted to
the ensemble at the end of tuning (fixed afterwards, so the chain stays a valid MCMC).
Draws are returned per walker (arviz ``chain`` = walker) so that R-hat and the effective sample
size are computed by arviz on genuine Markov chains.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import FitError
from ._optimize import FitResult, fit
from ._problem import CalibrationProblem

if TYPE_CHECKING:
    import arviz as az

__all__ = ["Posterior", "laplace", "sample"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, eq=False)
class Posterior:
    """A posterior over the estimated parameters.

    Attributes
    ----------
    names : tuple of str
        Parameter ids.
    log_scale : tuple of bool
        Whether each parameter's estimation scale is log.
    kind : str
        ``"laplace"`` or ``"ensemble"``.
    theta_draws : numpy.ndarray
        Draws on the estimation scale, shape ``(chains, draws, k)`` (read-only).
    map_theta : numpy.ndarray or None
        The MAP (estimation scale), when known.
    cov_theta : pandas.DataFrame
        Covariance on the estimation scale (the Laplace covariance, or that of the draws).
    log_posterior : numpy.ndarray or None
        Log posterior (up to a constant) of the draws, ``(chains, draws)``.
    info : dict
        Method details (acceptance rate, Hessian method, warnings...).
    """

    names: tuple[str, ...]
    log_scale: tuple[bool, ...]
    kind: str
    theta_draws: Array
    map_theta: Array | None
    cov_theta: pd.DataFrame
    log_posterior: Array | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        a = np.array(self.theta_draws, dtype=float)
        a.setflags(write=False)
        object.__setattr__(self, "theta_draws", a)

    # ------------------------------------------------------------------ views
    def _natural(self, th: Array) -> Array:
        lg = np.asarray(self.log_scale)
        return np.where(lg, np.exp(np.where(lg, th, 0.0)), th)

    @property
    def draws(self) -> pd.DataFrame:
        """All draws pooled, natural scale, one column per parameter."""
        flat = self.theta_draws.reshape(-1, len(self.names))
        return pd.DataFrame(self._natural(flat), columns=list(self.names))

    @property
    def mean(self) -> dict[str, float]:
        """Posterior means (natural scale)."""
        return {str(k): float(v) for k, v in self.draws.mean().items()}

    @property
    def sd(self) -> dict[str, float]:
        """Posterior standard deviations (natural scale)."""
        return {str(k): float(v) for k, v in self.draws.std().items()}

    @property
    def mean_theta(self) -> dict[str, float]:
        """Means on the estimation scale."""
        m = self.theta_draws.reshape(-1, len(self.names)).mean(axis=0)
        return dict(zip(self.names, (float(x) for x in m), strict=True))

    @property
    def sd_theta(self) -> dict[str, float]:
        """Standard deviations on the estimation scale (from :attr:`cov_theta`)."""
        d = np.sqrt(np.diag(self.cov_theta.to_numpy()))
        return dict(zip(self.names, (float(x) for x in d), strict=True))

    def quantiles(self, q: Sequence[float] | float = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Posterior quantiles (natural scale): rows ``q``, columns parameters.

        For a Laplace posterior they are exact quantiles of the Gaussian on the estimation scale,
        carried to the natural scale (a monotone map).
        """
        qs = np.atleast_1d(np.asarray(q, dtype=float))
        if np.any((qs <= 0) | (qs >= 1)):
            raise ValueError("quantiles must lie strictly between 0 and 1")
        if self.kind == "laplace" and self.map_theta is not None:
            sd = np.sqrt(np.diag(self.cov_theta.to_numpy()))
            th = self.map_theta[None, :] + stats.norm.ppf(qs)[:, None] * sd[None, :]
        else:
            flat = self.theta_draws.reshape(-1, len(self.names))
            th = np.quantile(flat, qs, axis=0)
        return pd.DataFrame(
            self._natural(th), index=pd.Index(qs, name="q"), columns=list(self.names)
        )

    def interval(self, level: float = 0.9) -> pd.DataFrame:
        """Central credible intervals: columns ``lower``, ``upper`` by parameter (natural scale)."""
        a = (1.0 - level) / 2.0
        qt = self.quantiles([a, 1.0 - a])
        return pd.DataFrame({"lower": qt.iloc[0], "upper": qt.iloc[1]})

    def to_arviz(self) -> az.InferenceData:
        """The draws as :class:`arviz.InferenceData` (natural scale; chain = walker)."""
        import arviz as az

        nat = self._natural(self.theta_draws)
        posterior = {n: nat[:, :, j] for j, n in enumerate(self.names)}
        sample_stats = {}
        if self.log_posterior is not None:
            sample_stats["lp"] = self.log_posterior
        idata: az.InferenceData = az.from_dict(
            posterior=posterior,
            sample_stats=sample_stats or None,
            attrs={"inference": self.kind},
        )
        return idata

    def diagnostics(self) -> pd.DataFrame:
        """R-hat and bulk/tail effective sample sizes by parameter (arviz)."""
        import arviz as az

        idata = self.to_arviz()
        rhat = az.rhat(idata)  # type: ignore[no-untyped-call]
        ess_b = az.ess(idata, method="bulk")  # type: ignore[no-untyped-call]
        ess_t = az.ess(idata, method="tail")  # type: ignore[no-untyped-call]
        return pd.DataFrame(
            {
                "r_hat": [float(rhat[n]) for n in self.names],
                "ess_bulk": [float(ess_b[n]) for n in self.names],
                "ess_tail": [float(ess_t[n]) for n in self.names],
            },
            index=list(self.names),
        )

    def __repr__(self) -> str:
        c, d, _ = self.theta_draws.shape
        return (
            f"Posterior(kind={self.kind!r}, parameters={list(self.names)}, chains={c}, draws={d})"
        )


def _hessian_fd(problem: CalibrationProblem, theta: Array, h: float) -> Array:
    k = theta.size
    pts = np.concatenate([theta + h * np.eye(k), theta - h * np.eye(k)], axis=0)
    val, grad = problem.objective(pts, gradient=True)
    if not np.all(np.isfinite(grad)):
        raise FitError("laplace: the gradient could not be evaluated around the MAP")
    H = (grad[:k] - grad[k:]) / (2.0 * h)
    return np.asarray(0.5 * (H + H.T))


def laplace(
    fit_result: FitResult,
    *,
    method: Literal["hessian", "gauss-newton"] = "hessian",
    draws: int = 4000,
    seed: int | None = 0,
    step: float = 1e-4,
) -> Posterior:
    """The Laplace approximation at the MAP: a Gaussian on the estimation scale.

    Parameters
    ----------
    fit_result
        A :func:`fit` result.
    method
        ``"hessian"``: central differences of the analytic gradient (falls back to Gauss-Newton
        when not positive definite); ``"gauss-newton"``: ``J^T J`` of the stacked residuals.
    draws
        Number of draws generated for :attr:`Posterior.draws`.
    seed
        Seed of those draws.
    step
        Finite-difference step on the estimation scale.
    """
    problem = fit_result.problem
    th = np.asarray(fit_result.theta, dtype=float)
    names = problem.names
    notes: list[str] = []
    H: Array
    if method == "hessian":
        H = _hessian_fd(problem, th, step)
        try:
            np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            notes.append("finite-difference Hessian not positive definite; used Gauss-Newton")
            H = fit_result.jacobian.T @ fit_result.jacobian
    elif method == "gauss-newton":
        H = fit_result.jacobian.T @ fit_result.jacobian
    else:
        raise FitError(f"laplace: unknown method '{method}'")
    try:
        cov = np.linalg.inv(H)
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(H)
        cov = 0.5 * (cov + cov.T) + 1e-12 * np.eye(len(names))
        notes.append("Hessian singular: a pseudo-inverse was used (non-identifiable parameters)")
    if fit_result.at_bounds:
        notes.append(
            f"parameters at bounds {list(fit_result.at_bounds)}: Gaussian is a poor fit there"
        )
    rng = np.random.default_rng(seed)
    d = rng.multivariate_normal(th, cov, size=draws, method="eigh")
    return Posterior(
        names=names,
        log_scale=tuple(problem.log_scale[n] for n in names),
        kind="laplace",
        theta_draws=d[None, :, :],
        map_theta=th,
        cov_theta=pd.DataFrame(cov, index=list(names), columns=list(names)),
        info={"method": method, "notes": notes, "objective": fit_result.objective},
    )


def _logpost(problem: CalibrationProblem, th: Array) -> Array:
    inb = problem.in_bounds(th)
    out = np.full(th.shape[0], -np.inf)
    if inb.any():
        v = np.asarray(problem.objective(th[inb]))
        out[inb] = -v
    return np.where(np.isfinite(out), out, -np.inf)


def sample(
    problem: CalibrationProblem,
    *,
    draws: int = 1000,
    chains: int = 4,
    walkers: int | None = None,
    tune: int = 500,
    thin: int = 1,
    seed: int | None = None,
    init: FitResult | None = None,
    independence_share: float = 0.5,
) -> Posterior:
    """Sample the posterior with batched ensembles.

    Parameters
    ----------
    problem
        The calibration problem (the box of its bounds is part of the prior).
    draws
        Retained steps per walker (after ``thin``).
    chains
        Independent ensembles.
    walkers
        Walkers per ensemble (default ``max(2k + 2, 8)``).
    tune
        Burn-in steps per walker (discarded); the independence proposal is fitted at its end.
    thin
        Keep every ``thin``-th step.
    seed
        Random seed.
    init
        A :func:`fit` result; walkers start around its MAP (Laplace spread). Default: a fit with
        10 starts is run first.
    independence_share
        Probability of an independence move (else a stretch move) at each step after tuning.

    Returns
    -------
    Posterior
        ``theta_draws`` of shape ``(chains*walkers, draws, k)``; diagnostics from
        :meth:`Posterior.diagnostics`.
    """
    rng = np.random.default_rng(seed)
    k = problem.n_parameters
    W = walkers or max(2 * k + 2, 8)
    if W % 2:
        W += 1
    if W < 4 or chains < 1 or draws < 1 or tune < 0 or thin < 1:
        raise FitError("sample: need walkers >= 4, chains >= 1, draws >= 1, tune >= 0, thin >= 1")
    if init is None:
        init = fit(problem, starts=10, seed=int(rng.integers(2**31)))
    lo, hi = problem.bounds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            lap = laplace(init, draws=1, seed=int(rng.integers(2**31)))
            cov0 = lap.cov_theta.to_numpy()
        except FitError:
            cov0 = np.diag(((hi - lo) / 100.0) ** 2)
    C = chains
    pos, lp = _initial_walkers(problem, init.theta, cov0, C, W, rng)
    a = 2.0
    keep_steps = draws * thin
    out = np.empty((C, W, draws, k))
    out_lp = np.empty((C, W, draws))
    accepted = 0
    proposed = 0
    t_prop: tuple[Array, Array, float] | None = None
    for step in range(tune + keep_steps):
        if step == tune:
            flat = pos.reshape(-1, k)
            mu = flat.mean(axis=0)
            S = np.cov(flat.T).reshape(k, k) * 1.2 + 1e-12 * np.eye(k)
            t_prop = (mu, S, 5.0)
        use_ind = t_prop is not None and rng.random() < independence_share
        if use_ind:
            assert t_prop is not None
            n_acc, n_prop = _independence_move(problem, pos, lp, t_prop, rng)
        else:
            n_acc, n_prop = _stretch_move(problem, pos, lp, a, rng)
        if step >= tune:
            accepted += n_acc
            proposed += n_prop
        if step >= tune and (step - tune) % thin == thin - 1:
            j = (step - tune) // thin
            out[:, :, j] = pos
            out_lp[:, :, j] = lp
    draws_arr = out.reshape(C * W, draws, k)
    flat = draws_arr.reshape(-1, k)
    names = problem.names
    cov = np.cov(flat.T).reshape(k, k)
    return Posterior(
        names=names,
        log_scale=tuple(problem.log_scale[n] for n in names),
        kind="ensemble",
        theta_draws=draws_arr,
        map_theta=np.asarray(init.theta),
        cov_theta=pd.DataFrame(cov, index=list(names), columns=list(names)),
        log_posterior=out_lp.reshape(C * W, draws),
        info={
            "ensembles": C,
            "walkers": W,
            "tune": tune,
            "thin": thin,
            "acceptance": accepted / max(proposed, 1),
            "independence_share": independence_share,
            "draws_total": int(flat.shape[0]),
        },
    )


def _initial_walkers(
    problem: CalibrationProblem,
    center: Array,
    cov0: Array,
    C: int,
    W: int,
    rng: np.random.Generator,
) -> tuple[Array, Array]:
    """Walkers around the MAP, inside the box, where the posterior is finite."""
    lo, hi = problem.bounds
    k = problem.n_parameters
    pos = np.empty((C, W, k))
    lp = np.empty((C, W))
    for c in range(C):
        todo = np.arange(W)
        for _ in range(50):
            prop = rng.multivariate_normal(center, cov0, size=todo.size, method="eigh")
            prop = np.clip(prop, lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
            v = _logpost(problem, prop)
            ok = np.isfinite(v)
            pos[c, todo[ok]] = prop[ok]
            lp[c, todo[ok]] = v[ok]
            todo = todo[~ok]
            if todo.size == 0:
                break
        if todo.size:
            raise FitError("sample: could not place walkers where the posterior is finite")
    return pos, lp


def _independence_move(
    problem: CalibrationProblem,
    pos: Array,
    lp: Array,
    t_prop: tuple[Array, Array, float],
    rng: np.random.Generator,
) -> tuple[int, int]:
    """Multivariate-t independence proposals for every walker (in place); (accepted, proposed)."""
    C, W, k = pos.shape
    mu, S, nu = t_prop
    dist = stats.multivariate_t(loc=mu, shape=S, df=nu, seed=rng)
    prop = np.asarray(dist.rvs(size=C * W)).reshape(C * W, k)
    v = _logpost(problem, prop)
    cur = pos.reshape(-1, k)
    log_alpha = v - lp.reshape(-1) + dist.logpdf(cur) - dist.logpdf(prop)
    acc = np.log(rng.random(C * W)) < log_alpha
    flat_pos = pos.reshape(-1, k)
    flat_lp = lp.reshape(-1)
    flat_pos[acc] = prop[acc]
    flat_lp[acc] = v[acc]
    return int(acc.sum()), C * W


def _stretch_move(
    problem: CalibrationProblem, pos: Array, lp: Array, a: float, rng: np.random.Generator
) -> tuple[int, int]:
    """Affine-invariant stretch moves, half an ensemble at a time (in place)."""
    C, W, k = pos.shape
    half = W // 2
    accepted = 0
    for s in (0, 1):
        mov = slice(0, half) if s == 0 else slice(half, W)
        oth = slice(half, W) if s == 0 else slice(0, half)
        cur = pos[:, mov]  # (C, half, k)
        partners = pos[:, oth][:, rng.integers(0, W - half, size=half)]
        z = ((a - 1.0) * rng.random((C, half)) + 1.0) ** 2 / a
        prop = partners + z[..., None] * (cur - partners)
        v = _logpost(problem, prop.reshape(-1, k)).reshape(C, half)
        log_alpha = (k - 1) * np.log(z) + v - lp[:, mov]
        acc = np.log(rng.random((C, half))) < log_alpha
        newpos = np.where(acc[..., None], prop, cur)
        pos[:, mov] = newpos
        lp[:, mov] = np.where(acc, v, lp[:, mov])
        accepted += int(acc.sum())
    return accepted, 2 * C * half
