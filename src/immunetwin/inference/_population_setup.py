"""Setup of the population fit: options, the design of the population model, its M-step.

:func:`_setup` checks the subjects' problems and builds the covariate design of the random
parameters (:class:`_Setup`); :func:`_m_step` updates the population means, covariate effects
and the random-effects covariance from sufficient statistics. :class:`_State` carries the
population parameters through the algorithms of :mod:`._population_algo` and
:mod:`._population_laplace`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..data import Dataset
from ..engine import AbstractEngine
from ..errors import FitError
from ._population_eval import SubjectStack
from ._priors import _covariate_values
from ._problem import CalibrationProblem

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class PopulationOptions:
    """Options of :func:`fit_population`.

    Attributes
    ----------
    omega : "diagonal" or "full"
        Structure of the random-effects covariance.
    n_burn, n_smooth : int
        SAEM iterations with step size 1 (exploration, simulated annealing of ``Omega``) and with
        decreasing step size ``1/j**0.8`` (averaging).
    chains : int or None
        Markov chains per subject (default: enough for about 50 chains in all, at most 8).
    kernel_steps : tuple of 3 ints
        Steps per SAEM iteration of the three kernels (population proposal, joint random walk,
        component-wise random walk sweeps).
    anneal : float
        During burn-in each variance may shrink at most by this factor per iteration.
    conditional_draws : int
        Draws per subject of its conditional distribution at the final population parameters
        (Metropolis-Hastings from the Laplace approximation at the mode; 0: none, the Laplace
        approximation then gives the intervals).
    max_iter, tol : int, float
        Laplace-EM: maximum outer iterations and convergence tolerance (largest change of the
        population parameters on their estimation scale).
    lm_iter : int
        Levenberg-Marquardt iterations per conditional-mode search.
    omega_min : float
        Floor of the random-effect variances.
    propagate_uncertainty : bool
        Let the conditional draws integrate over the population parameters' estimation
        uncertainty (their asymptotic normal distribution) rather than plug in the estimates.
    center_covariates : bool
        Centre covariates at their sample mean (the population means are then those of a subject
        with average covariates; :meth:`PopulationResult.prior` converts to uncentred form).
    """

    omega: Literal["diagonal", "full"] = "diagonal"
    n_burn: int = 150
    n_smooth: int = 100
    chains: int | None = None
    kernel_steps: tuple[int, int, int] = (2, 2, 1)
    anneal: float = 0.95
    conditional_draws: int = 400
    max_iter: int = 100
    tol: float = 1e-3
    lm_iter: int = 60
    omega_min: float = 1e-6
    center_covariates: bool = True
    propagate_uncertainty: bool = True


# ---------------------------------------------------------------------- setup
@dataclass
class _Setup:
    stack: SubjectStack
    subjects: tuple[str, ...]
    names: tuple[str, ...]
    ridx: Array  # indices of random params in names
    fidx: Array  # indices of fixed effects
    log: Array  # (k,) bool
    X: Array  # (n, q, p) design
    beta_labels: list[tuple[str, str | None]]
    cov_names: tuple[str, ...]
    centers: dict[str, float]
    full_omega: bool


def _collect_problems(
    problems: Mapping[str, CalibrationProblem] | Callable[[str], CalibrationProblem],
    data: Dataset | None,
    subjects: Sequence[str] | None,
) -> dict[str, CalibrationProblem]:
    if isinstance(problems, Mapping):
        out = {str(k): v for k, v in problems.items()}
        for sid, p in out.items():
            if not isinstance(p, CalibrationProblem):
                raise FitError(
                    f"population fit: problem of subject '{sid}' is no CalibrationProblem"
                )
        return out
    if not callable(problems):
        raise FitError("population fit: pass a mapping subject -> problem or a factory")
    if data is None:
        raise FitError("population fit: a problem factory needs data=Dataset")
    ids = list(subjects) if subjects is not None else [s.id for s in data.subjects]
    have = {o.subject for o in data.observations}
    out = {}
    for sid in ids:
        if sid not in have:
            continue
        try:
            out[sid] = problems(sid)
        except FitError as exc:
            raise FitError(f"population fit: subject '{sid}': {exc}") from None
    return out


def _setup(
    probs: dict[str, CalibrationProblem],
    random: Sequence[str],
    fixed_effects: Sequence[str],
    covariates: Mapping[str, Sequence[str]],
    covariate_data: Mapping[str, Mapping[str, Any]] | None,
    opts: PopulationOptions,
    engine: AbstractEngine | None = None,
) -> _Setup:
    if len(probs) < 2:
        raise FitError(f"population fit: needs at least 2 subjects, got {len(probs)}")
    subjects = tuple(probs)
    stack = SubjectStack([probs[s] for s in subjects], engine=engine)
    names = stack.names
    random = [str(r) for r in random]
    fixed_effects = [str(f) for f in fixed_effects]
    if not random:
        raise FitError("population fit: no random effects (random=[...])")
    for r in random + fixed_effects:
        if r not in names:
            raise FitError(
                f"population fit: parameter '{r}' is not estimated by the subjects' problems "
                f"(they estimate {list(names)})"
            )
    both = set(random) & set(fixed_effects)
    if both:
        raise FitError(f"population fit: parameter(s) {sorted(both)} both random and fixed")
    rest = [n for n in names if n not in random and n not in fixed_effects]
    if rest:
        raise FitError(
            f"population fit: estimated parameter(s) {rest} are neither random nor fixed effects"
        )
    for p in covariates:
        if p not in random:
            raise FitError(f"population fit: covariate effect on '{p}', which has no random effect")
    cov_names = tuple(sorted({c for cs in covariates.values() for c in cs}))
    n = len(subjects)
    values = np.zeros((n, len(cov_names)))
    for i, sid in enumerate(subjects):
        if covariate_data is not None and sid in covariate_data:
            vals = dict(covariate_data[sid])
        else:
            prob = probs[sid]
            subj = next((x for x in prob.data.subjects if x.id == sid), None)
            vals = _covariate_values(subj)
        for j, c in enumerate(cov_names):
            v = vals.get(c)
            if v is None:
                raise FitError(f"population fit: subject '{sid}' has no covariate '{c}'")
            try:
                values[i, j] = float(v)
            except (TypeError, ValueError):
                raise FitError(
                    f"population fit: covariate '{c}' of subject '{sid}' is not numeric: {v!r}"
                ) from None
    centers = {
        c: (float(values[:, j].mean()) if opts.center_covariates else 0.0)
        for j, c in enumerate(cov_names)
    }
    labels: list[tuple[str, str | None]] = []
    for r in random:
        labels.append((r, None))
        for c in covariates.get(r, ()):
            labels.append((r, str(c)))
    q, pdim = len(random), len(labels)
    X = np.zeros((n, q, pdim))
    for b, (r, cn) in enumerate(labels):
        j = random.index(r)
        if cn is None:
            X[:, j, b] = 1.0
        else:
            ci = cov_names.index(cn)
            X[:, j, b] = values[:, ci] - centers[cn]
    if opts.omega not in ("diagonal", "full"):
        raise FitError(f"population fit: omega must be 'diagonal' or 'full', not {opts.omega!r}")
    log = np.asarray([stack.views[0].log_scale[nm] for nm in names], dtype=bool)
    return _Setup(
        stack=stack,
        subjects=subjects,
        names=names,
        ridx=np.asarray([names.index(r) for r in random], dtype=np.int64),
        fidx=np.asarray([names.index(f) for f in fixed_effects], dtype=np.int64),
        log=log,
        X=X,
        beta_labels=labels,
        cov_names=cov_names,
        centers=centers,
        full_omega=opts.omega == "full",
    )


# ---------------------------------------------------------------------- M-step and helpers
def _m_step(
    su: _Setup, S1: Array, S2: Array, omega: Array, omega_min: float
) -> tuple[Array, Array]:
    """GLS for beta (given the current Omega) and the covariance update from the statistics.

    ``S1 (n, q)``: conditional means of theta_i; ``S2 (q, q)``: sum of conditional second moments.
    """
    X = su.X
    n = X.shape[0]
    W = np.linalg.inv(omega)
    XtW = np.einsum("iqp,qr->ipr", X, W)
    A = np.einsum("ipr,irs->ps", XtW, X)
    b = np.einsum("ipr,ir->p", XtW, S1)
    beta = np.linalg.solve(A, b)
    m = np.einsum("iqp,p->iq", X, beta)
    new = (S2 - S1.T @ m - m.T @ S1 + m.T @ m) / n
    new = 0.5 * (new + new.T)
    if not su.full_omega:
        new = np.diag(np.diag(new))
    d = np.maximum(np.diag(new), omega_min)
    new[np.diag_indices_from(new)] = d
    # keep positive definite
    w, V = np.linalg.eigh(new)
    if np.min(w) < omega_min:
        new = (V * np.maximum(w, omega_min)) @ V.T
    return beta, new


def _prior_rows(su: _Setup, beta: Array, rows_subj: Array) -> Array:
    m = np.einsum("iqp,p->iq", su.X, beta)
    out: Array = m[rows_subj]
    return out


# ---------------------------------------------------------------------- state of the algorithms
@dataclass
class _State:
    beta: Array
    omega: Array
    phi: Array
    trace: list[dict[str, float]]
    evaluations: int = 0
    converged: bool = True
    info: dict[str, Any] = field(default_factory=dict)


def _trace_row(su: _Setup, it: int, gamma: float, st: _State) -> dict[str, float]:
    row: dict[str, float] = {"iteration": float(it), "step": gamma}
    for b, (p, c) in enumerate(su.beta_labels):
        row[f"mu({p})" if c is None else f"beta({p},{c})"] = float(st.beta[b])
    for j, r in enumerate(su.ridx.tolist()):
        row[f"omega({su.names[r]})"] = float(st.omega[j, j])
    for a, fi in enumerate(su.fidx.tolist()):
        row[f"fixed({su.names[fi]})"] = float(st.phi[a])
    return row
