"""The digital twin of one person: calibrate, update as data arrive, forecast, compare, optimise."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..data import Dataset, Observation
from ..errors import FitError
from ..inference import (
    CalibrationProblem,
    GaussianPrior,
    PopulationPrior,
    Posterior,
    laplace,
)
from ..model import ModelSpec
from ._config import TwinConfig, model_twin_defaults, only_subject, usable_new
from ._document import TwinContents
from ._format import read_twin, save_twin
from ._particles import (
    Evaluator,
    ParticleSet,
    duplicates,
    ess,
    map_fit,
    mh_moves,
    prior_draws,
    proposal_cov,
    proposal_draws,
    restore,
    systematic_resample,
    temper,
)
from ._predict import (
    Forecast,
    build_forecast,
    lod_log10,
    observable_matrix,
    output_names,
    simulate_with,
    to_log10,
)
from ._scenarios import (
    Comparison,
    Constraint,
    OptimiseResult,
    Scenario,
    default_builder,
    inflammation_state,
    outcomes,
    resolve,
    search_grid,
)
from ._state import (
    CalibrationStep,
    HistoryEntry,
    NewObservation,
    Particles,
    TwinState,
    UpdateStep,
)

__all__ = ["DigitalTwin"]

Array = np.ndarray[Any, Any]
GRID_STEP = 0.25


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DigitalTwin:
    """A mechanistic model personalised to one person, kept up to date as data arrive.

    Build one with :func:`~immunetwin.twin.build_twin` (the recipe: subject, cutoff, detection
    limits, start time, per-model defaults); this constructor takes the resolved parts.

    Parameters
    ----------
    model
        A :class:`~immunetwin.model.ModelSpec` or a library model name.
    data
        The person's data (a :class:`~immunetwin.data.Dataset`; other subjects are ignored).
    config
        The twin's settings (:class:`TwinConfig`: observables, estimated and fixed parameters,
        noise, start time, detection limits, subject, particles, horizon, seed).
    prior
        A :class:`~immunetwin.inference.PopulationPrior` (its :meth:`for_subject` is used with
        the subject's covariates) or a :class:`~immunetwin.inference.GaussianPrior` on the
        estimation scale; default: the model's priors (flat within the bounds where none).
    state
        A :class:`TwinState` to resume from (a saved twin's posterior and history); the
        particle trajectories are re-simulated.
    """

    def __init__(
        self,
        model: ModelSpec | str,
        data: Dataset,
        config: TwinConfig,
        *,
        prior: PopulationPrior | GaussianPrior | None = None,
        state: TwinState | None = None,
    ) -> None:
        from ..model import library

        spec = library.get(model) if isinstance(model, str) else model
        if not isinstance(spec, ModelSpec):
            raise FitError("DigitalTwin: model must be a ModelSpec or a library model name")
        if not isinstance(data, Dataset):
            raise FitError("DigitalTwin: data must be an immunetwin.data.Dataset")
        if not isinstance(config, TwinConfig):
            raise FitError("DigitalTwin: config must be a TwinConfig (see build_twin)")
        subject = config.subject if config.subject is not None else only_subject(data)
        self.model = spec
        self.subject = subject
        self.prior = prior
        self._gauss: GaussianPrior | None = (
            prior.for_subject(data.subject(subject))
            if isinstance(prior, PopulationPrior)
            else prior
        )
        self.data = config.prepare(data, subject)
        if not self.data.observations:
            raise FitError(f"DigitalTwin: subject '{subject}' has no usable observations")
        last = max(o.time for o in self.data.observations)
        horizon = config.horizon if config.horizon is not None else float(math.ceil(last) + 14)
        self.config = replace(
            config, subject=subject, horizon=horizon, name=config.name or f"{spec.id}:{subject}"
        )
        self._rng = np.random.default_rng(config.seed)
        self._history: list[HistoryEntry] = []
        self._particles: ParticleSet | None = None
        self._ev: Evaluator | None = None
        self._map: Array | None = None
        self._floor_cov: Array | None = None
        self._obs_cache: dict[Any, Any] = {}
        self._problem = self.config.problem(spec, self.data, subject, self._gauss, prepared=True)
        self.names = self._problem.names
        if state is not None:
            self._resume(state)

    def _resume(self, state: TwinState) -> None:
        self._history = list(state.history)
        self._map = state.map_theta
        self._floor_cov = state.floor_cov
        if state.rng_state is not None:
            self._rng.bit_generator.state = dict(state.rng_state)
        if state.particles is not None:
            grid = state.grid if state.grid is not None else self._grid()
            self._particles, self._ev = restore(self._problem, state.particles, grid)

    # ------------------------------------------------------------------ basics
    @property
    def name(self) -> str:
        """Display name."""
        return str(self.config.name)

    @property
    def horizon(self) -> float:
        """Last day of forecasts and scenario outcomes."""
        return float(self.config.horizon)  # type: ignore[arg-type]

    @property
    def n_particles(self) -> int:
        """Number of posterior particles."""
        return self.config.particles

    @property
    def seed(self) -> int:
        """Seed of the twin's random generator."""
        return self.config.seed

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        """Every calibration and update, oldest first."""
        return tuple(self._history)

    @property
    def state(self) -> TwinState:
        """A snapshot of what the twin has learnt (particles, MAP, history, generator state)."""
        ps = self._particles
        return TwinState(
            particles=None
            if ps is None
            else Particles(theta=ps.theta, log_weight=ps.logw, log_posterior=ps.logpost),
            grid=None if self._ev is None else self._ev.grid,
            map_theta=self._map,
            floor_cov=self._floor_cov,
            history=tuple(self._history),
            rng_state=self._rng.bit_generator.state,
        )

    @property
    def calibrated(self) -> bool:
        """Whether the twin has a posterior."""
        return self._particles is not None

    @property
    def simulations(self) -> int:
        """Simulations run by the particle cache since it was (re)built (0 before calibration)."""
        return 0 if self._ev is None else self._ev.simulations

    @property
    def cache_grid(self) -> Array:
        """Times at which the particles' trajectories are cached (empty before calibration)."""
        return np.zeros(0) if self._ev is None else self._ev.grid.copy()

    def _need(self) -> tuple[Evaluator, ParticleSet]:
        if self._particles is None or self._ev is None:
            raise FitError("the twin is not calibrated yet; call calibrate() first")
        return self._ev, self._particles

    def _grid(self, extra: Array | None = None) -> Array:
        t0 = self.config.t0
        g = np.arange(0.0, self.horizon - t0 + GRID_STEP / 2, GRID_STEP) + t0
        parts = [g, self._problem.times]
        if extra is not None:
            parts.append(np.asarray(extra, dtype=float))
        return np.unique(np.round(np.concatenate(parts), 9))

    @property
    def problem(self) -> CalibrationProblem:
        """The calibration problem of all data assimilated so far."""
        return self._problem

    @property
    def primary(self) -> str:
        """The first analyte (the viral load of the outcomes)."""
        return next(iter(self.config.observables))

    # ------------------------------------------------------------------ calibrate
    def calibrate(self, *, starts: int = 20, moves: int = 6) -> DigitalTwin:
        """Personalise: MAP fit, Laplace proposal, importance weights, resampling and MCMC moves.

        Parameters
        ----------
        starts
            Random starts of the MAP fit (the prior mean is added as a start when there is one).
        moves
            Metropolis-Hastings rejuvenation steps after resampling.
        """
        t_start = time.perf_counter()
        pb = self._problem
        res = map_fit(pb, self._gauss, starts, self._rng)
        self._map = np.asarray(res.theta)
        lo, hi = pb.bounds
        try:
            cov = proposal_cov(laplace(res, draws=1).cov_theta.to_numpy(), lo, hi)
        except (FitError, np.linalg.LinAlgError):
            cov = np.diag(((hi - lo) / 20.0) ** 2)
        ev = Evaluator(pb, self._grid())
        dist = stats.multivariate_t(loc=res.theta, shape=cov * 1.5, df=4.0, seed=self._rng)
        n = self.n_particles
        theta = proposal_draws(pb, dist, n)
        y = ev.simulate(theta)
        lp = ev.log_target(theta, y)
        base = dist.logpdf
        lq = base(theta)
        ps = ParticleSet(theta=theta, logw=np.zeros(n), logpost=lp, y=y)
        ess0 = ess(np.where(np.isfinite(lp), lp - lq, -np.inf))
        ps, stages, n_moves, acc = temper(ev, ps, base, self._rng, moves=moves, floor_cov=cov)
        self._floor_cov = cov
        self._particles, self._ev = ps, ev
        self._history.append(
            CalibrationStep(
                at=_now(),
                observations=pb.n_observations,
                map={k: float(v) for k, v in res.estimates.items()},
                map_objective=float(res.objective),
                fit_warnings=tuple(res.warnings),
                importance_ess=ess0,
                tempering_stages=stages,
                moves=n_moves,
                acceptance=acc,
                particles=n,
                seconds=time.perf_counter() - t_start,
            )
        )
        return self

    # ------------------------------------------------------------------ update
    def update(
        self,
        new_observations: Dataset | Sequence[Observation] | pd.DataFrame | Observation,
        *,
        ess_threshold: float = 0.5,
        moves: int = 4,
    ) -> DigitalTwin:
        """Assimilate new observations by a sequential Monte Carlo step.

        The particles are reweighted by the likelihood of the new observations (read from the
        cached trajectories when the times are on the grid); when the effective sample size falls
        below ``ess_threshold * N`` they are resampled and the copies (every resampled particle
        but the first of each) are moved by up to ``moves`` Metropolis-Hastings steps targeting
        the posterior of all data, each until a proposal of it is accepted.
        """
        ev, ps = self._need()
        t_start = time.perf_counter()
        obs, dropped = usable_new(new_observations, self.config, self.subject)
        only = self.config.prepare(
            self.data.with_step("update", observations=tuple(obs)), self.subject
        )
        merged = self.data.with_step(
            f"twin update: {len(obs)} observation(s) at t={sorted({o.time for o in obs})}",
            observations=tuple(self.data.observations) + tuple(only.observations),
        )
        pb_new = self.config.problem(self.model, only, self.subject, None, prepared=True)
        pb_all = self.config.problem(self.model, merged, self.subject, self._gauss, prepared=True)
        resimulated = False
        if ev.on_grid(pb_new.times):
            ev.problem = pb_all
        else:
            ev = Evaluator(pb_all, np.concatenate([ev.grid, pb_new.times]))
            ps = replace(ps, y=ev.simulate(ps.theta))
            resimulated = True
        ll = ev.log_likelihood(pb_new, ps.theta, ps.y)
        ps = replace(ps, logw=ps.logw + ll, logpost=ps.logpost + ll)
        ess_new = ps.ess
        moved, acc = 0, float("nan")
        if not np.isfinite(ess_new) or ess_new < ess_threshold * ps.n:
            idx = systematic_resample(self._rng, ps.logw)
            ps, acc = mh_moves(
                ev,
                ps.take(idx),
                self._rng,
                steps=moves,
                floor_cov=self._floor_cov,
                copies=duplicates(idx),
            )
            moved = int(ps.info.get("steps", moves))
        self._particles, self._ev = ps, ev
        self.data, self._problem = merged, pb_all
        self._history.append(
            UpdateStep(
                at=_now(),
                new_observations=tuple(NewObservation.of(o) for o in only.observations),
                dropped_before_t0=dropped,
                ess_after_reweighting=ess_new,
                resampled=bool(moved),
                moves=moved,
                acceptance=acc,
                resimulated=resimulated,
                seconds=time.perf_counter() - t_start,
            )
        )
        return self

    # ------------------------------------------------------------------ posterior
    def _equal_draws(self, draws: int | None) -> tuple[Array, Array]:
        ev, ps = self._need()
        n = draws or ps.n
        if n == ps.n and np.allclose(ps.logw, ps.logw[0]):
            idx = np.arange(ps.n)
        else:
            w = ps.weights()
            idx = self._rng.choice(ps.n, size=n, p=w)
        return ps.theta[idx], idx

    @property
    def posterior(self) -> Posterior:
        """The particle posterior (equal-weight draws) as an inference :class:`Posterior`."""
        ev, ps = self._need()
        theta, _ = self._equal_draws(None)
        k = theta.shape[1]
        cov = np.atleast_2d(np.cov(theta.T)).reshape(k, k)
        return Posterior(
            names=self.names,
            log_scale=tuple(self._problem.log_scale[n] for n in self.names),
            kind="smc",
            theta_draws=theta[None, :, :],
            map_theta=self._map,
            cov_theta=pd.DataFrame(cov, index=list(self.names), columns=list(self.names)),
            info={"ess": ps.ess, "particles": ps.n},
        )

    def summary(self) -> pd.DataFrame:
        """Posterior mean, SD and 90% interval of each parameter (natural scale), with the MAP."""
        post = self.posterior
        q = post.quantiles((0.05, 0.5, 0.95))
        qa = q[list(self.names)].to_numpy(dtype=float)  # rows: 5%, 50%, 95%
        mean, sd = post.mean, post.sd
        frame = pd.DataFrame(
            {
                "parameter": list(self.names),
                "mean": [mean[n] for n in self.names],
                "sd": [sd[n] for n in self.names],
                "q05": [float(qa[0, j]) for j in range(len(self.names))],
                "median": [float(qa[1, j]) for j in range(len(self.names))],
                "q95": [float(qa[2, j]) for j in range(len(self.names))],
            }
        )
        if self._map is not None:
            frame["map"] = self._problem.to_natural(self._map)
        return frame

    # ------------------------------------------------------------------ forecast
    def default_times(self, n: int = 85) -> Array:
        """``n`` equally spaced times from the model start to the horizon."""
        return np.linspace(self.config.t0, self.horizon, n)

    def forecast(
        self,
        times: Iterable[float] | None = None,
        *,
        scenario: Scenario | None = None,
        draws: int | None = None,
        states: bool = True,
    ) -> Forecast:
        """Posterior predictive quantiles (5/25/50/75/95%) of observables (with measurement noise)
        and states at ``times`` (default: 85 times from the model start to the horizon)."""
        ev, ps = self._need()
        t = np.asarray(self.default_times() if times is None else list(times), dtype=float)
        if t.size == 0 or np.any(np.diff(t) < 0) or t[0] < self.config.t0:
            raise FitError(f"forecast: times must be sorted and >= t0={self.config.t0:g}")
        theta, idx = self._equal_draws(draws)
        cached = scenario is None and ev.on_grid(t)
        if cached:
            y = ps.y[idx][:, ev.index(t), :]
        else:
            over = resolve(scenario, self.model) if scenario is not None else {}
            y = simulate_with(ev.problem, theta, t, over)
        return build_forecast(
            self.model,
            self.config,
            self.data,
            self.subject,
            self.names,
            theta,
            y,
            t,
            output_names(ev.problem),
            self._rng,
            scenario="as observed" if scenario is None else scenario.name,
            states=states,
            cache=self._obs_cache,
        )

    def prior_draws(self, draws: int = 1000) -> Array:
        """Draws of the prior (estimation scale), truncated to the bounds.

        The Gaussian (population) prior when the twin has one, else uniform over the box.
        """
        return prior_draws(self._problem, self._gauss, self._rng, draws)

    def prior_forecast(
        self, times: Iterable[float] | None = None, *, draws: int = 1000, states: bool = False
    ) -> Forecast:
        """The population-typical forecast: prior predictive quantiles, no personalisation."""
        t = np.asarray(self.default_times() if times is None else list(times), dtype=float)
        theta = self.prior_draws(draws)
        y = simulate_with(self._problem, theta, t, {})
        return build_forecast(
            self.model,
            self.config,
            self.data,
            self.subject,
            self.names,
            theta,
            y,
            t,
            output_names(self._problem),
            self._rng,
            scenario="prior (population-typical)",
            states=states,
        )

    # ------------------------------------------------------------------ what-if
    def lod_log10(self) -> float:
        """Detection limit of the first analyte in log10 model units (AUC and clearance)."""
        return lod_log10(self.config, self.data, self.primary)

    def _scenario_outcomes(self, sc: Scenario, theta: Array, times: Array) -> pd.DataFrame:
        ev, _ = self._need()
        y = simulate_with(ev.problem, theta, times, resolve(sc, self.model))
        mu = observable_matrix(
            self.model, self.config, self.data, self.subject, theta, y, times, self._obs_cache
        )
        l10 = to_log10(self.config, self.model, self.primary, mu[self.primary])
        st = inflammation_state(self.model)
        infl = None
        if st is not None:
            infl = y[:, :, list(output_names(ev.problem)).index(st)]
        out = outcomes(times, l10, self.lod_log10(), infl)
        out.insert(0, "draw", np.arange(theta.shape[0]))
        out.insert(0, "scenario", sc.name)
        return out

    def _outcome_times(self) -> Array:
        return np.arange(self.config.t0, self.horizon + 1e-9, 0.1)

    def what_if(
        self, scenarios: Sequence[Scenario | str], *, draws: int | None = None
    ) -> Comparison:
        """Outcome distributions (peak, AUC, time to clearance, peak inflammation) under named
        scenarios, on the same posterior draws; the first scenario is the baseline."""
        scs = [s if isinstance(s, Scenario) else Scenario.parse(s) for s in scenarios]
        if not scs:
            raise FitError("what_if: no scenarios")
        names = [s.name for s in scs]
        if len(set(names)) != len(names):
            raise FitError(f"what_if: scenario names must be unique, got {names}")
        theta, _ = self._equal_draws(draws)
        t = self._outcome_times()
        frames = [self._scenario_outcomes(s, theta, t) for s in scs]
        return Comparison(
            draws=pd.concat(frames, ignore_index=True),
            baseline=scs[0].name,
            scenarios=tuple(scs),
            lod_log10=self.lod_log10(),
            info={"inflammation_state": inflammation_state(self.model), "draws": theta.shape[0]},
        )

    def optimise(
        self,
        intervention_space: Mapping[str, Sequence[float]],
        objective: str = "max:start",
        constraints: Sequence[Constraint] = (Constraint(),),
        *,
        intervention: str | None = None,
        builder: Callable[..., Scenario] | None = None,
        draws: int | None = None,
    ) -> OptimiseResult:
        """Search an intervention space (a grid) for the best point meeting probabilistic
        constraints.

        Example: the latest antiviral start day that still halves the viral AUC with 90%
        probability: ``twin.optimise({"start": range(0, 10), "efficacy": [0.9]}, "max:start",
        [Constraint("auc", 0.5, 0.9)])``.

        ``objective`` is ``"max:<coordinate>"``, ``"min:<coordinate>"``, or ``"min:<outcome>"``
        / ``"max:<outcome>"`` (posterior median). ``intervention`` (name or kind) defaults to the
        model's twin default (its library card), else ``"antiviral"``.
        """
        sense, _, key = objective.partition(":")
        if sense not in ("max", "min") or not key:
            raise FitError(
                f"optimise: objective must be 'max:<name>' or 'min:<name>', got '{objective}'"
            )
        theta, _ = self._equal_draws(draws)
        t = self._outcome_times()
        return search_grid(
            lambda sc: self._scenario_outcomes(sc, theta, t),
            intervention_space,
            (sense, key),
            constraints,
            builder
            or default_builder(intervention or model_twin_defaults(self.model).intervention),
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, keep: int = 10, force: bool = False) -> Path:
        """Write the twin as a new version of the directory ``path`` (atomic; the newest
        ``keep`` versions are kept; ``force`` replaces another subject's twin); see :func:`load`
        and :func:`twin_versions`."""
        ps = self._particles
        contents = TwinContents(
            model=self.model,
            data=self.data,
            config=self.config,
            prior=self.prior,
            state=self.state,
            natural=None if ps is None else self._problem.to_natural(ps.theta),
        )
        return save_twin(contents, Path(path), keep=keep, force=force)

    @classmethod
    def load(cls, path: str | Path) -> DigitalTwin:
        """Read the current version of a twin directory written by :meth:`save` (checks every
        file's checksum and the model hash; :class:`~immunetwin.errors.TwinFormatError` if not)."""
        c = read_twin(path)
        return cls(c.model, c.data, c.config, prior=c.prior, state=c.state)

    def __repr__(self) -> str:
        state = (
            f"{self._particles.n} particles" if self._particles is not None else "not calibrated"
        )
        return (
            f"DigitalTwin(model={self.model.id!r}, subject={self.subject!r}, "
            f"observations={self._problem.n_observations}, {state}, updates={len(self._history)})"
        )
