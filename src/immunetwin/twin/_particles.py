"""The twin's posterior as a weighted particle set, and the sequential Monte Carlo machinery.

The states of a deterministic within-host model are a function of its parameters, so the
posterior over parameters is the whole posterior: a particle is a parameter vector ``theta`` on
the estimation scale together with its simulated trajectory on a time grid (the *cache*). With the
cache, the likelihood of a new observation at a grid time costs a table look-up, not a
simulation: reweighting for one new observation is a few milliseconds for 1,000 particles.

Moves (rejuvenation) are Metropolis-Hastings steps whose every proposal for every particle is one
batched simulation: a mixture of independence proposals from a multivariate t fitted to the
particles and random-walk proposals scaled to the particle covariance (``2.38^2/k``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats

from ..errors import FitError
from ..inference import CalibrationProblem, FitResult, GaussianPrior, fit
from ._state import Particles

__all__ = ["Evaluator", "ParticleSet", "ess", "systematic_resample"]

Array = np.ndarray[Any, Any]


@dataclass
class Evaluator:
    """Simulates particles on a time grid and scores them against a problem's data.

    Attributes
    ----------
    problem : CalibrationProblem
        All data assimilated so far, with the prior.
    grid : numpy.ndarray
        Sorted times of the cache (contains every observation time).
    """

    problem: CalibrationProblem
    grid: Array
    simulations: int = 0

    def __post_init__(self) -> None:
        self.grid = np.unique(np.concatenate([self.grid, self.problem.times]))

    def index(self, times: Array) -> Array:
        """Positions of ``times`` in the grid (all must be on it)."""
        idx = np.searchsorted(self.grid, times)
        idx = np.minimum(idx, self.grid.size - 1)
        if not np.allclose(self.grid[idx], times, rtol=0, atol=1e-9):
            raise ValueError("times not on the cache grid")
        return idx

    def on_grid(self, times: Array) -> bool:
        """Whether every time lies on the grid."""
        idx = np.minimum(np.searchsorted(self.grid, times), self.grid.size - 1)
        return bool(np.allclose(self.grid[idx], times, rtol=0, atol=1e-9))

    def simulate(self, theta: Array) -> Array:
        """Outputs of ``theta`` on the grid, ``(N, G, m)`` (NaN where a simulation failed)."""
        y, _, _, ok = self.problem.simulate_outputs(theta, sensitivities=False, times=self.grid)
        self.simulations += int(np.atleast_2d(theta).shape[0])
        y = np.array(y, dtype=float)
        y[~ok] = np.nan
        return y

    def log_target(
        self, theta: Array, y: Array, problem: CalibrationProblem | None = None
    ) -> Array:
        """Log posterior (up to a constant) from grid outputs; ``-inf`` outside the bounds."""
        pb = problem or self.problem
        th = np.atleast_2d(theta)
        out = np.full(th.shape[0], -np.inf)
        inb = pb.in_bounds(th)
        if inb.any():
            out[inb] = -pb.objective_from_outputs(th[inb], y[inb][:, self.index(pb.times), :])
        return np.where(np.isfinite(out), out, -np.inf)

    def log_likelihood(self, problem: CalibrationProblem, theta: Array, y: Array) -> Array:
        """Log likelihood of ``problem``'s observations (no prior) from grid outputs."""
        v = problem.objective_from_outputs(
            np.atleast_2d(theta), y[:, self.index(problem.times), :], prior=False
        )
        return np.where(np.isfinite(v), -v, -np.inf)


def map_fit(
    problem: CalibrationProblem,
    prior: GaussianPrior | None,
    starts: int,
    rng: np.random.Generator,
) -> FitResult:
    """Multi-start MAP fit (the prior mean, clipped to the box, as an extra start)."""
    initial = None
    if prior is not None:
        nominal = problem.nominal  # parameters the prior does not cover start at the model's values
        initial = np.asarray([prior.mean.get(n, nominal[i]) for i, n in enumerate(problem.names)])[
            None, :
        ]
        lo, hi = problem.bounds
        initial = np.clip(initial, lo, hi)
    return fit(problem, starts=starts, seed=rng, initial=initial)


def proposal_draws(problem: CalibrationProblem, dist: Any, n: int) -> Array:
    """``n`` draws of a proposal distribution, truncated to the box (a constant factor)."""
    lo, hi = problem.bounds
    theta = np.asarray(dist.rvs(size=n)).reshape(n, -1)
    for _ in range(10):
        bad = ~problem.in_bounds(theta)
        if not bad.any():
            break
        theta[bad] = np.asarray(dist.rvs(size=int(bad.sum()))).reshape(-1, theta.shape[1])
    return np.asarray(np.clip(theta, lo, hi))


def prior_draws(
    problem: CalibrationProblem, prior: GaussianPrior | None, rng: np.random.Generator, draws: int
) -> Array:
    """Draws of ``prior`` (estimation scale; uniform over the box without one), truncated to the
    bounds."""
    lo, hi = problem.bounds
    if prior is None:
        return lo + (hi - lo) * rng.random((draws, lo.size))
    names = list(problem.names)
    mean = np.asarray([prior.mean.get(n, np.nan) for n in names])
    if np.isnan(mean).any():
        raise FitError("prior_draws: the Gaussian prior does not cover every parameter")
    cov = prior.cov.loc[names, names].to_numpy()
    out = rng.multivariate_normal(mean, cov, size=draws, method="eigh")
    for _ in range(20):
        bad = ~problem.in_bounds(out)
        if not bad.any():
            break
        out[bad] = rng.multivariate_normal(mean, cov, size=int(bad.sum()), method="eigh")
    return np.clip(out, lo, hi)


def restore(
    problem: CalibrationProblem, particles: Particles, grid: Array
) -> tuple[ParticleSet, Evaluator]:
    """Saved particles with their trajectories re-simulated on ``grid`` (deterministic)."""
    if particles.theta.ndim != 2 or particles.theta.shape[1] != problem.n_parameters:
        raise FitError(
            f"twin state: particles have shape {particles.theta.shape}; the twin estimates "
            f"{problem.n_parameters} parameters"
        )
    ev = Evaluator(problem, np.asarray(grid, dtype=float))
    ps = ParticleSet(
        theta=particles.theta,
        logw=particles.log_weight,
        logpost=particles.log_posterior,
        y=ev.simulate(particles.theta),
    )
    return ps, ev


def ess(logw: Array) -> float:
    """Effective sample size of normalised-or-not log weights."""
    w = np.exp(logw - np.max(logw))
    return float(np.sum(w) ** 2 / np.sum(w**2))


def normalise(logw: Array) -> Array:
    """Weights summing to one."""
    w = np.exp(logw - np.max(logw))
    return np.asarray(w / np.sum(w))


def proposal_cov(cov: Array, lo: Array, hi: Array) -> Array:
    """A Laplace covariance made fit for a proposal: symmetric, eigenvalues capped at the box
    and floored relative to the largest (positive definite when the MAP sits on a bound, where
    a flat direction lies next to a steep one)."""
    cov = 0.5 * (cov + cov.T)
    w, v = np.linalg.eigh(cov)
    cap = float(np.max((hi - lo) ** 2) / 4.0)
    w = np.clip(w, max(1e-8, 1e-6 * float(np.max(w))), cap)
    return np.asarray((v * w) @ v.T)


def duplicates(idx: Array) -> Array:
    """Mask of the resampled particles that copy an earlier one (all but the first of each)."""
    idx = np.asarray(idx)
    first = np.zeros(idx.size, dtype=bool)
    _, pos = np.unique(idx, return_index=True)
    first[pos] = True
    return ~first


def systematic_resample(rng: np.random.Generator, logw: Array) -> Array:
    """Indices of a systematic resample."""
    w = normalise(logw)
    n = w.size
    pos = (rng.random() + np.arange(n)) / n
    cum = np.cumsum(w)
    cum[-1] = 1.0
    return np.asarray(np.searchsorted(cum, pos), dtype=np.int64)


@dataclass(frozen=True)
class ParticleSet:
    """Weighted parameter particles with their cached grid outputs.

    Attributes
    ----------
    theta : numpy.ndarray
        ``(N, k)`` on the estimation scale.
    logw : numpy.ndarray
        ``(N,)`` log weights (unnormalised).
    logpost : numpy.ndarray
        ``(N,)`` log posterior of all data so far (for Metropolis-Hastings moves).
    y : numpy.ndarray
        ``(N, G, m)`` outputs on the evaluator grid.
    """

    theta: Array
    logw: Array
    logpost: Array
    y: Array
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of particles."""
        return int(self.theta.shape[0])

    @property
    def ess(self) -> float:
        """Effective sample size."""
        return ess(self.logw)

    def weights(self) -> Array:
        """Normalised weights."""
        return normalise(self.logw)

    def mean_cov(self) -> tuple[Array, Array]:
        """Weighted mean and covariance of ``theta``."""
        w = self.weights()
        m = w @ self.theta
        d = self.theta - m
        c = (d * w[:, None]).T @ d
        return m, np.atleast_2d(c)

    def take(self, idx: Array) -> ParticleSet:
        """Particles ``idx`` with equal weights."""
        return ParticleSet(
            theta=self.theta[idx].copy(),
            logw=np.zeros(idx.size),
            logpost=self.logpost[idx].copy(),
            y=self.y[idx].copy(),
            info=dict(self.info),
        )


def mh_moves(
    ev: Evaluator,
    ps: ParticleSet,
    rng: np.random.Generator,
    *,
    steps: int,
    independence_share: float = 0.5,
    floor_cov: Array | None = None,
    target_acceptance: float | None = None,
    max_steps: int | None = None,
    lam: float = 1.0,
    base: Callable[[Array], Array] | None = None,
    copies: Array | None = None,
) -> tuple[ParticleSet, float]:
    """Metropolis-Hastings moves of equally weighted particles (invariant: the posterior).

    The proposals are scaled by the particle covariance plus 1% of ``floor_cov`` (so that a
    collapsed particle set still moves). With ``target_acceptance``, steps continue (up to
    ``max_steps``) until the acceptance rates summed over the steps reach it, i.e. until each
    particle has moved that many times on average. With ``lam < 1`` the invariant density is the
    tempered ``posterior**lam * base**(1 - lam)`` (``base``: a log density). With ``copies`` (a
    boolean mask, e.g. :func:`duplicates` of a resample), only those particles are moved, and each
    only until one of its proposals is accepted: the distinct particles are left as they are,
    which restores diversity at a fraction of the simulations (the kernel is posterior-invariant
    for every particle, and which particles move depends on the resampling genealogy only).
    Returns the moved particles and the mean acceptance rate (over the particles proposed).
    """
    k = ps.theta.shape[1]
    lo, hi = ev.problem.bounds
    acc_total = 0.0
    theta, lp, y = ps.theta.copy(), ps.logpost.copy(), ps.y.copy()
    n = theta.shape[0]
    limit = max(steps, max_steps or steps)
    done = 0
    for step in range(limit):
        if step >= steps and (target_acceptance is None or acc_total >= target_acceptance):
            break
        done += 1
        m = theta.mean(axis=0)
        cov = np.atleast_2d(np.cov(theta.T)).reshape(k, k)
        floor = floor_cov if floor_cov is not None else np.diag(((hi - lo) / 50.0) ** 2)
        cov = 0.5 * (cov + cov.T) + 0.01 * floor + 1e-10 * np.eye(k)
        use_ind = step % 2 == 0 if independence_share >= 0.5 else rng.random() < independence_share
        if use_ind:
            dist = stats.multivariate_t(loc=m, shape=cov * 1.3, df=5.0, seed=rng)
            prop = np.asarray(dist.rvs(size=n)).reshape(n, k)
            log_q = dist.logpdf(theta) - dist.logpdf(prop)
        else:
            scale = 2.38**2 / k * 0.5
            chol = np.linalg.cholesky(cov * scale)
            prop = theta + rng.standard_normal((n, k)) @ chol.T
            log_q = np.zeros(n)
        inb = np.all((prop >= lo) & (prop <= hi), axis=1)
        if copies is not None:
            inb &= copies
            if not copies.any():
                done -= 1
                break
        lp_new = np.full(n, -np.inf)
        y_new = np.full_like(y, np.nan)
        if inb.any():
            y_new[inb] = ev.simulate(prop[inb])
            lp_new[inb] = ev.log_target(prop[inb], y_new[inb])
        if lam < 1.0 and base is not None:
            t_new = lam * lp_new + (1.0 - lam) * base(prop)
            t_old = lam * lp + (1.0 - lam) * base(theta)
            log_alpha = t_new - t_old + np.atleast_1d(log_q)
        else:
            log_alpha = lp_new - lp + np.atleast_1d(log_q)
        log_alpha = np.where(np.isfinite(lp_new), log_alpha, -np.inf)
        acc = np.log(rng.random(n)) < log_alpha
        theta[acc], lp[acc], y[acc] = prop[acc], lp_new[acc], y_new[acc]
        if copies is not None:
            proposed = int(copies.sum())
            acc_total += float(acc.sum()) / max(proposed, 1)
            copies = copies & ~acc
        else:
            acc_total += float(acc.mean())
    out = ParticleSet(
        theta=theta, logw=np.zeros(n), logpost=lp, y=y, info={**ps.info, "steps": done}
    )
    return out, acc_total / max(done, 1)


def next_temperature(inc: Array, lam: float, logw: Array, target_ess: float) -> float:
    """The next tempering exponent: the largest ``lam' <= 1`` whose weights
    ``logw + (lam' - lam) * inc`` keep the effective sample size at ``target_ess`` (bisection)."""
    inc = np.where(np.isfinite(inc), inc, -np.inf)
    if ess(logw + (1.0 - lam) * inc) >= target_ess:
        return 1.0
    a, b = lam, 1.0
    for _ in range(50):
        mid = 0.5 * (a + b)
        if ess(logw + (mid - lam) * inc) >= target_ess:
            a = mid
        else:
            b = mid
    return max(a, lam + 1e-6)


def temper(
    ev: Evaluator,
    ps: ParticleSet,
    base: Callable[[Array], Array],
    rng: np.random.Generator,
    *,
    moves: int,
    floor_cov: Array | None,
    max_stages: int = 40,
) -> tuple[ParticleSet, int, int, float]:
    """Adaptive tempering from the proposal density ``base`` (the particles' source) to the
    posterior: raise the exponent so that the ESS stays at N/2, resample, move (2 steps per
    stage; at the end ``moves`` steps and until each particle moved ~3 times).

    Returns the particles, the number of stages, of moves and the mean acceptance rate.
    """
    n = ps.n
    lam, stages, total, accs = 0.0, 0, 0, []
    while lam < 1.0 and stages < max_stages:
        inc = np.where(np.isfinite(ps.logpost), ps.logpost - base(ps.theta), -np.inf)
        new_lam = next_temperature(inc, lam, ps.logw, 0.5 * n)
        ps = replace(ps, logw=ps.logw + (new_lam - lam) * inc)
        lam = new_lam
        stages += 1
        ps = ps.take(systematic_resample(rng, ps.logw))
        last = lam >= 1.0
        ps, acc = mh_moves(
            ev,
            ps,
            rng,
            steps=moves if last else 2,
            floor_cov=floor_cov,
            target_acceptance=3.0 if last else None,
            max_steps=5 * moves,
            lam=lam,
            base=base,
        )
        total += int(ps.info["steps"])
        accs.append(acc)
    return ps, stages, total, float(np.mean(accs)) if accs else float("nan")
