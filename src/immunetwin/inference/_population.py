"""Population (nonlinear mixed-effects) fits: SAEM and a Laplace-EM scheme.

Model, on each parameter's estimation scale (``log`` for log-scale parameters)::

    theta_i[random]  = mu + beta . (c_i - c_mean) + eta_i,   eta_i ~ N(0, Omega)
    theta_i[fixed]   = phi                                   (shared by all subjects)
    y_i | theta_i    ~ the individual likelihood of subject i's CalibrationProblem
                       (normal / Student-t, censored observations by their CDF terms)

* ``method="saem"`` (default): stochastic approximation EM (Kuhn & Lavielle 2005). Each
  iteration moves the random effects of every subject (``chains`` Markov chains per subject) by
  Metropolis-within-Gibbs kernels -- proposals from the population distribution, joint random
  walks, component-wise random walks -- each kernel step simulating all subjects' proposals in
  ONE batched engine call; the sufficient statistics are averaged by stochastic approximation
  and ``mu, beta, Omega`` have a closed-form M-step; shared fixed effects take a Robbins-Monro
  Newton step (finite differences of the likelihood). After convergence the chains are run on at
  fixed population parameters to give each subject's conditional distribution (the individual
  posterior under the population prior).
* ``method="laplace-em"``: per-subject MAP under the current population prior (batched
  Levenberg-Marquardt over all subjects at once), Laplace covariances, closed-form M-step for
  ``mu, beta, Omega`` (including the Laplace covariances), a Newton step for the fixed effects;
  iterated to convergence (FOCE-I-like; biased when individual data are sparse).

Both end with the conditional modes (empirical Bayes estimates), the objective ``-2 log L``
(Laplace approximation at the modes), and standard errors from the Fisher information of the
model linearised at the modes (random effects integrated out by Schur complement).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from ..data import Dataset
from ..engine import AbstractEngine, EngineOptions, using_engine
from ..errors import FitError
from ._population_algo import (
    PopulationOptions,
    _collect_problems,
    _conditional_draws,
    _laplace_cov,
    _laplace_em,
    _ModeResult,
    _modes,
    _neg2ll,
    _saem,
    _Setup,
    _setup,
    _standard_errors,
    _State,
)
from ._priors import PopulationPrior
from ._problem import CalibrationProblem

__all__ = ["PopulationOptions", "PopulationResult", "fit_population"]

Array = np.ndarray[Any, Any]
_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True, eq=False)
class PopulationResult:
    """The outcome of :func:`fit_population` (immutable).

    Attributes
    ----------
    method : str
        ``"saem"`` or ``"laplace-em"``.
    random : tuple of str
        Parameters with random effects.
    fixed_effects : dict[str, float]
        Shared parameters (natural scale).
    mean_theta : dict[str, float]
        Population means of the random parameters on the estimation scale (at the covariate
        centres, see ``covariate_centers``).
    mean : dict[str, float]
        The same on the natural scale (the population median of a log-normal parameter).
    omega : pandas.DataFrame
        Random-effects covariance (estimation scale), labelled by parameter.
    covariate_effects : dict[str, dict[str, float]]
        ``{parameter: {covariate: coefficient}}`` (shift of the estimation-scale value per unit).
    covariate_centers : dict[str, float]
        Covariate values at which ``mean_theta`` applies (0 when not centred).
    standard_errors : pandas.DataFrame
        Rows ``mu(p)``, ``beta(p,c)``, ``omega(p)`` / ``omega(p,q)``, ``fixed(p)``; columns
        ``estimate`` (estimation scale; variances for omega), ``se``, ``rse`` (se/|estimate|),
        ``natural`` and ``se_natural`` (delta method; the sd for omega).
    individual : pandas.DataFrame
        Empirical Bayes estimates (conditional modes) by subject, natural scale, one column per
        estimated parameter.
    individual_theta : pandas.DataFrame
        The same on the estimation scale.
    conditional : pandas.DataFrame
        Each subject's conditional distribution of its random parameters: rows ``(subject,
        parameter)``; columns ``mode``, ``mean_theta``, ``sd_theta`` (estimation scale) and the
        quantiles ``q05 q25 q50 q75 q95`` (natural scale). From the MCMC draws (SAEM) or the
        Laplace approximation at the mode (Laplace-EM).
    conditional_draws : numpy.ndarray or None
        Draws ``(subjects, draws, random)`` on the estimation scale (SAEM).
    objective : float
        ``-2 log L`` (Laplace approximation at the conditional modes).
    trace : pandas.DataFrame
        Per iteration: ``iteration``, ``step``, ``mu(p)``, ``omega(p)``, ``fixed(p)``.
    converged : bool
        Whether the iterations met the tolerance (Laplace-EM) or the SAEM schedule ran out with
        stable parameters.
    wall_time : float
        Seconds.
    n_observations : int
        Observations in all (censored included).
    warnings : tuple of str
        Messages.
    info : dict
        Method details (chains, acceptance rates, evaluations...).
    """

    method: str
    random: tuple[str, ...]
    fixed_effects: dict[str, float]
    mean_theta: dict[str, float]
    mean: dict[str, float]
    omega: pd.DataFrame
    covariate_effects: dict[str, dict[str, float]]
    covariate_centers: dict[str, float]
    standard_errors: pd.DataFrame
    individual: pd.DataFrame
    individual_theta: pd.DataFrame
    conditional: pd.DataFrame
    conditional_draws: Array | None
    objective: float
    trace: pd.DataFrame
    converged: bool
    wall_time: float
    n_observations: int
    warnings: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    log_scale: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.conditional_draws is not None:
            a = np.array(self.conditional_draws, dtype=float)
            a.setflags(write=False)
            object.__setattr__(self, "conditional_draws", a)

    @property
    def subjects(self) -> tuple[str, ...]:
        """Subject ids, in order."""
        return tuple(str(s) for s in self.individual.index)

    @property
    def omega_sd(self) -> dict[str, float]:
        """Standard deviations of the random effects (estimation scale)."""
        d = np.sqrt(np.diag(self.omega.to_numpy()))
        return dict(zip(self.random, (float(x) for x in d), strict=True))

    def prior(self, *, source: str = "") -> PopulationPrior:
        """The population distribution as a :class:`PopulationPrior` (uncentred covariates)."""
        mean = dict(self.mean_theta)
        for p, eff in self.covariate_effects.items():
            for c, b in eff.items():
                mean[p] -= b * self.covariate_centers.get(c, 0.0)
        src = source or (
            f"population fit ({self.method}) of {len(self.individual)} subjects, "
            f"-2LL={self.objective:.2f}"
        )
        return PopulationPrior(
            mean=mean, cov=self.omega, covariate_effects=self.covariate_effects, source=src
        )

    def interval(self, level: float = 0.9) -> pd.DataFrame:
        """Each subject's central interval of its random parameters (natural scale).

        Rows ``(subject, parameter)``; columns ``lower``, ``upper``.
        """
        if not 0 < level < 1:
            raise ValueError("level must lie strictly between 0 and 1")
        a = (1.0 - level) / 2.0
        draws = self.conditional_draws
        cond = self.conditional
        if draws is not None and draws.shape[1] > 1:
            lo = np.quantile(draws, a, axis=1)
            hi = np.quantile(draws, 1 - a, axis=1)
        else:
            n, q = len(self.individual), len(self.random)
            m = cond["mean_theta"].to_numpy().reshape(n, q)
            sd = cond["sd_theta"].to_numpy().reshape(n, q)
            z = float(stats.norm.ppf(1 - a))
            lo, hi = m - z * sd, m + z * sd
        lg = np.asarray([self.log_scale.get(p, True) for p in self.random])
        lo = np.where(lg, np.exp(lo), lo)
        hi = np.where(lg, np.exp(hi), hi)
        return pd.DataFrame({"lower": lo.ravel(), "upper": hi.ravel()}, index=cond.index)

    def summary(self) -> pd.DataFrame:
        """Population parameters with standard errors (the ``standard_errors`` table)."""
        return self.standard_errors.copy()

    def __repr__(self) -> str:
        mean = ", ".join(f"{k}={v:.4g}" for k, v in self.mean.items())
        sd = ", ".join(f"{k}={v:.3g}" for k, v in self.omega_sd.items())
        fx = ", ".join(f"{k}={v:.4g}" for k, v in self.fixed_effects.items())
        return (
            f"PopulationResult(method={self.method!r}, subjects={len(self.individual)}, "
            f"-2LL={self.objective:.2f}, mean: {mean}; omega sd: {sd}; fixed: {fx or '-'})"
        )


# ---------------------------------------------------------------------- entry point
def fit_population(
    problems: Mapping[str, CalibrationProblem] | Callable[[str], CalibrationProblem],
    *,
    random: Sequence[str],
    fixed_effects: Sequence[str] = (),
    covariates: Mapping[str, Sequence[str]] | None = None,
    method: Literal["saem", "laplace-em"] = "saem",
    data: Dataset | None = None,
    subjects: Sequence[str] | None = None,
    covariate_data: Mapping[str, Mapping[str, Any]] | None = None,
    initial: Mapping[str, float] | None = None,
    initial_sd: Mapping[str, float] | float = 0.5,
    seed: int | np.random.Generator | None = None,
    options: PopulationOptions | None = None,
    engine: AbstractEngine | EngineOptions | str | None = None,
) -> PopulationResult:
    """Fit a nonlinear mixed-effects model over many subjects.

    Parameters
    ----------
    problems
        ``{subject id: CalibrationProblem}`` (one model, the same estimated parameters), or a
        factory ``subject id -> CalibrationProblem`` together with ``data`` (every subject with
        observations; or those in ``subjects``).
    random
        Parameters with random effects (normal on the estimation scale: log-normal for
        log-scale parameters).
    fixed_effects
        Parameters shared by all subjects (e.g. a noise sigma). Every estimated parameter must
        be in ``random`` or ``fixed_effects``.
    covariates
        ``{parameter: [covariate, ...]}``: linear effects on the estimation scale. Values come
        from the Dataset's subjects (``age``, ``sex``, ``attributes``; booleans count 0/1) or
        from ``covariate_data`` ``{subject: {covariate: value}}``.
    method
        ``"saem"`` or ``"laplace-em"`` (see the module documentation).
    initial
        Initial population values (natural scale) by parameter; default the problems' nominal
        values.
    initial_sd
        Initial random-effect standard deviations (estimation scale).
    seed
        Random seed (SAEM).
    options
        :class:`PopulationOptions`.
    engine
        Where the stacked simulations run: an engine, its options or their text form
        (:mod:`immunetwin.engine`; default
        :func:`~immunetwin.engine.default_engine`). With a multi-worker engine each batched
        simulation is split into one block of rows per worker; the numbers are the same.

    Raises
    ------
    FitError
        Naming the subject or parameter at fault.
    """
    t_start = time.perf_counter()
    opts = options or PopulationOptions()
    if method not in ("saem", "laplace-em"):
        raise FitError(f"population fit: unknown method '{method}' (use 'saem' or 'laplace-em')")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    probs = _collect_problems(problems, data, subjects)
    with using_engine(engine) as eng:
        su = _setup(
            probs,
            random,
            fixed_effects,
            dict(covariates or {}),
            covariate_data,
            opts,
            eng,
        )
        st, theta0 = _initial_state(su, initial, initial_sd)
        theta_init = np.tile(theta0, (len(su.subjects), 1))
        draws: Array | None = None
        if method == "saem":
            modes = _saem_modes(su, st, theta_init, opts, rng)
        else:
            modes = _laplace_em(su, st, theta_init, opts)
        unc = _standard_errors(su, modes, st.beta, st.omega)
        if opts.conditional_draws > 0:
            cov_fb, cov_o, opar, _ = unc
            ok_unc = bool(np.all(np.isfinite(cov_fb)) and np.all(np.isfinite(cov_o)))
            draws = _conditional_draws(
                su,
                st,
                modes,
                opts,
                rng,
                (cov_fb, cov_o, opar) if (opts.propagate_uncertainty and ok_unc) else None,
            )
        su.stack.engine = None  # the engine's life ends here
    warns: list[str] = []
    if not st.converged:
        warns.append(f"{method}: the population parameters did not settle; increase the iterations")
    bad = ~modes.ok
    if bad.any():
        raise FitError(
            f"population fit: no conditional mode for subject(s) "
            f"{[su.subjects[i] for i in np.flatnonzero(bad)[:5]]}"
        )
    return _result(su, st, modes, draws, method, warns, t_start, unc)


def _initial_state(
    su: _Setup, initial: Mapping[str, float] | None, initial_sd: Mapping[str, float] | float
) -> tuple[_State, Array]:
    """The starting population parameters and the common starting point (estimation scale)."""
    v0 = su.stack.views[0]
    theta0 = np.clip(v0.nominal, su.stack.lo, su.stack.hi)
    for key, val in dict(initial or {}).items():
        if key not in su.names:
            raise FitError(f"population fit: initial value for '{key}', which is not estimated")
        i = su.names.index(key)
        if su.log[i] and not val > 0:
            raise FitError(f"population fit: initial value of '{key}' must be positive")
        theta0[i] = math.log(val) if su.log[i] else float(val)
    sd0 = np.asarray(
        [
            float(initial_sd[su.names[r]] if isinstance(initial_sd, Mapping) else initial_sd)
            for r in su.ridx
        ]
    )
    if not np.all(sd0 > 0):
        raise FitError("population fit: initial_sd must be positive")
    beta0 = np.zeros(len(su.beta_labels))
    for b, (p, c) in enumerate(su.beta_labels):
        if c is None:
            beta0[b] = theta0[su.names.index(p)]
    st = _State(beta=beta0, omega=np.diag(sd0**2), phi=theta0[su.fidx].copy(), trace=[])
    return st, theta0


def _saem_modes(
    su: _Setup,
    st: _State,
    theta_init: Array,
    opts: PopulationOptions,
    rng: np.random.Generator,
) -> _ModeResult:
    """SAEM, then the conditional modes from the chains' means; judges convergence."""
    cmean = _saem(su, st, theta_init, opts, rng)
    start = cmean.copy()
    start[:, su.fidx] = st.phi
    modes = _modes(su, start, st.beta, st.omega, opts.lm_iter)
    st.evaluations += modes.evaluations
    tr = pd.DataFrame(st.trace)
    last = tr.iloc[-max(5, opts.n_smooth // 5) :]
    cols = [c for c in tr.columns if c not in ("iteration", "step")]
    width = (last[cols].max() - last[cols].min()).abs()
    scale = np.maximum(last[cols].abs().mean(), 0.5)
    st.converged = bool(len(last) == 0 or float((width / scale).max()) < 0.05)
    return modes


def _result(
    su: _Setup,
    st: _State,
    modes: _ModeResult,
    draws: Array | None,
    method: str,
    warns: list[str],
    t_start: float,
    unc: tuple[Array, Array, Array, list[str]],
) -> PopulationResult:
    names, ridx, fidx = su.names, su.ridx, su.fidx
    rnames = tuple(names[i] for i in ridx)
    fnames = tuple(names[i] for i in fidx)
    log = su.log
    n, q = len(su.subjects), ridx.size
    mean_theta = {p: float(st.beta[b]) for b, (p, c) in enumerate(su.beta_labels) if c is None}
    mean = {p: (math.exp(v) if log[names.index(p)] else v) for p, v in mean_theta.items()}
    cov_eff: dict[str, dict[str, float]] = {}
    for b, (p, c) in enumerate(su.beta_labels):
        if c is not None:
            cov_eff.setdefault(p, {})[c] = float(st.beta[b])
    fixed = {
        nm: (math.exp(st.phi[a]) if log[fidx[a]] else float(st.phi[a]))
        for a, nm in enumerate(fnames)
    }
    omega = pd.DataFrame(st.omega, index=list(rnames), columns=list(rnames))
    # standard errors
    cov_fb, cov_o, opar, se_warns = unc
    warns += se_warns
    rows: list[dict[str, Any]] = []
    f = fidx.size
    for b, (p, c) in enumerate(su.beta_labels):
        est = float(st.beta[b])
        se = math.sqrt(cov_fb[f + b, f + b]) if np.isfinite(cov_fb[f + b, f + b]) else math.nan
        lg = bool(log[names.index(p)])
        label = f"mu({p})" if c is None else f"beta({p},{c})"
        nat = math.exp(est) if (lg and c is None) else est
        rows.append(_se_row(label, est, se, nat, nat * se if (lg and c is None) else se))
    for a, (i, j) in enumerate(opar.tolist()):
        est = float(st.omega[i, j])
        v = cov_o[a, a]
        se = math.sqrt(v) if np.isfinite(v) else math.nan
        if i == j:
            sd = math.sqrt(est)
            rows.append(_se_row(f"omega({rnames[i]})", est, se, sd, se / (2 * sd)))
        else:
            rows.append(_se_row(f"omega({rnames[i]},{rnames[j]})", est, se, est, se))
    for a, nm in enumerate(fnames):
        est = float(st.phi[a])
        se = math.sqrt(cov_fb[a, a]) if np.isfinite(cov_fb[a, a]) else math.nan
        lg = bool(log[fidx[a]])
        nat = math.exp(est) if lg else est
        rows.append(_se_row(f"fixed({nm})", est, se, nat, nat * se if lg else se))
    se_table = pd.DataFrame(rows).set_index("parameter")
    # individual estimates
    th = modes.theta
    nat_all = np.where(log, np.exp(np.where(log, th, 0.0)), th)
    idx = pd.Index(list(su.subjects), name="subject")
    individual = pd.DataFrame(nat_all, index=idx, columns=list(names))
    individual_theta = pd.DataFrame(th, index=idx, columns=list(names))
    # conditional distributions
    lg_r = log[ridx]
    if draws is not None and draws.shape[1] > 1:
        m = draws.mean(axis=1)
        sd = draws.std(axis=1, ddof=1)
        qs = np.quantile(draws, _QUANTILES, axis=1)  # (5, n, q)
    else:
        Sig = _laplace_cov(su, modes.gn, st.omega)
        m = th[:, ridx]
        sd = np.sqrt(np.einsum("nqq->nq", Sig))
        z = stats.norm.ppf(_QUANTILES)
        qs = m[None] + z[:, None, None] * sd[None]
    qs = np.where(lg_r, np.exp(np.where(lg_r, qs, 0.0)), qs)
    cond = pd.DataFrame(
        {
            "subject": np.repeat(list(su.subjects), q),
            "parameter": np.tile(list(rnames), n),
            "mode": th[:, ridx].ravel(),
            "mean_theta": m.ravel(),
            "sd_theta": sd.ravel(),
            **{f"q{int(round(100 * qq)):02d}": qs[a].ravel() for a, qq in enumerate(_QUANTILES)},
        }
    ).set_index(["subject", "parameter"])
    obj = _neg2ll(su, modes, st.beta, st.omega)
    info = dict(st.info)
    info.update(
        evaluations=st.evaluations,
        subjects=n,
        parallel_rows=True,
        output_times=int(su.stack.tout.size),
    )
    return PopulationResult(
        method=method,
        random=rnames,
        fixed_effects=fixed,
        mean_theta=mean_theta,
        mean=mean,
        omega=omega,
        covariate_effects=cov_eff,
        covariate_centers={c: su.centers[c] for c in su.cov_names},
        standard_errors=se_table,
        individual=individual,
        individual_theta=individual_theta,
        conditional=cond,
        conditional_draws=draws,
        objective=obj,
        trace=pd.DataFrame(st.trace),
        converged=st.converged,
        wall_time=time.perf_counter() - t_start,
        n_observations=int(su.stack.n_obs.sum()),
        warnings=tuple(warns),
        info=info,
        log_scale={nm: bool(log[i]) for i, nm in enumerate(names)},
    )


def _se_row(label: str, est: float, se: float, nat: float, se_nat: float) -> dict[str, Any]:
    return {
        "parameter": label,
        "estimate": est,
        "se": se,
        "rse": se / abs(est) if est != 0 else math.nan,
        "natural": nat,
        "se_natural": se_nat,
    }
