"""Algorithms of the population fit: setup, M-step, conditional modes, SAEM, Laplace-EM,
conditional draws and the linearised Fisher information (see :mod:`._population`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..data import Dataset
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
) -> _Setup:
    if len(probs) < 2:
        raise FitError(f"population fit: needs at least 2 subjects, got {len(probs)}")
    subjects = tuple(probs)
    stack = SubjectStack([probs[s] for s in subjects])
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


def _fixed_newton(
    su: _Setup, TH: Array, subj: Array, v0: Array | None = None, h: float = 1e-3
) -> tuple[Array, Array, int]:
    """Gradient and (diagonal) second derivative of the summed likelihood in the fixed effects."""
    f = su.fidx.size
    g = np.zeros(f)
    H = np.zeros(f)
    evals = 0
    for a, j in enumerate(su.fidx.tolist()):
        plus, minus = TH.copy(), TH.copy()
        plus[:, j] += h
        minus[:, j] -= h
        both = np.concatenate([plus, minus])
        ev = su.stack.evaluate(both, np.concatenate([subj, subj]))
        evals += 1
        N = TH.shape[0]
        vp, vm = ev.value[:N], ev.value[N:]
        ok = np.isfinite(vp) & np.isfinite(vm)
        if v0 is None:
            v0 = su.stack.evaluate(TH, subj).value
            evals += 1
        ok &= np.isfinite(v0)
        g[a] = float(np.sum((vp - vm)[ok])) / (2 * h)
        H[a] = float(np.sum((vp - 2 * v0 + vm)[ok])) / h**2
    return g, H, evals


def _fixed_newton_laplace(
    su: _Setup, modes: _ModeResult, omega: Array, h: float = 1e-3
) -> tuple[Array, Array, int]:
    """Like :func:`_fixed_newton` for the Laplace objective ``L + 0.5 log|H_rr + Omega^-1|``."""
    n = modes.theta.shape[0]
    subj = np.arange(n)
    P = np.linalg.inv(omega)
    ridx = su.ridx

    def laplace_obj(th: Array) -> Array:
        ev = su.stack.evaluate(th, subj, jacobian=True)
        assert ev.gn is not None
        H = ev.gn[:, ridx][:, :, ridx] + P[None]
        out: Array = ev.value + 0.5 * np.linalg.slogdet(H)[1]
        return out

    f = su.fidx.size
    g, H2 = np.zeros(f), np.zeros(f)
    v0 = laplace_obj(modes.theta)
    for a, j in enumerate(su.fidx.tolist()):
        plus, minus = modes.theta.copy(), modes.theta.copy()
        plus[:, j] += h
        minus[:, j] -= h
        vp, vm = laplace_obj(plus), laplace_obj(minus)
        ok = np.isfinite(vp) & np.isfinite(vm) & np.isfinite(v0)
        g[a] = float(np.sum((vp - vm)[ok])) / (2 * h)
        H2[a] = float(np.sum((vp - 2 * v0 + vm)[ok])) / h**2
    return g, H2, 1 + 2 * f


@dataclass
class _ModeResult:
    theta: Array  # (n, k)
    lik: Array  # (n,) individual -log lik
    gn: Array  # (n, k, k) GN of the likelihood
    ok: Array
    evaluations: int


def _modes(su: _Setup, theta0: Array, beta: Array, omega: Array, max_iter: int) -> _ModeResult:
    """Conditional modes of all subjects at once (batched Levenberg-Marquardt, fixed effects held)."""
    stack = su.stack
    n, k = theta0.shape
    subj = np.arange(n)
    ridx = su.ridx
    P = np.linalg.inv(omega)
    mrow = _prior_rows(su, beta, subj)
    lo, hi = stack.lo, stack.hi
    free_base = np.zeros(k, dtype=bool)
    free_base[ridx] = True

    def total(th: Array, rows: Array) -> tuple[Array, Array, Array, Array, Array]:
        ev = stack.evaluate(th, rows, jacobian=True)
        assert ev.grad is not None and ev.gn is not None
        d = th[:, ridx] - mrow[rows]
        pd_ = d @ P
        cost = ev.value + 0.5 * np.einsum("nq,nq->n", pd_, d)
        g = ev.grad.copy()
        g[:, ridx] += pd_
        A = ev.gn.copy()
        A[np.ix_(np.arange(len(rows)), ridx, ridx)] += P
        return cost, g, A, ev.value, ev.gn

    th = np.clip(theta0.copy(), lo, hi)
    cost, g, A, lik, gn = total(th, subj)
    evals = 1
    ok = np.isfinite(cost)
    lam = np.full(n, 1e-3)
    active = ok.copy()
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        gi, Ai, thi = g[idx], A[idx], th[idx]
        at_lo = thi <= lo + 1e-12
        at_hi = thi >= hi - 1e-12
        free = free_base[None, :] & ~((at_lo & (gi > 0)) | (at_hi & (gi < 0)))
        pg = np.where(free, gi, 0.0)
        done = np.max(np.abs(pg), axis=1) < 1e-6
        active[idx[done]] = False
        keep = ~done
        idx, gi, Ai, thi, free = idx[keep], gi[keep], Ai[keep], thi[keep], free[keep]
        if idx.size == 0:
            break
        diag = np.maximum(np.einsum("nkk->nk", Ai), 1e-12)
        M = Ai + (lam[idx, None] * diag)[:, :, None] * np.eye(k)[None]
        M = np.where(free[:, :, None] & free[:, None, :], M, 0.0)
        M[:, np.arange(k), np.arange(k)] = np.where(free, np.einsum("nkk->nk", M), 1.0)
        step = -np.linalg.solve(M, np.where(free, gi, 0.0)[..., None])[..., 0]
        big = np.max(np.abs(step), axis=1)
        step *= np.minimum(1.0, 2.0 / np.maximum(big, 1e-300))[:, None]
        new = np.clip(thi + step, lo, hi)
        c_new, g_new, A_new, l_new, gn_new = total(new, idx)
        evals += 1
        better = np.isfinite(c_new) & (c_new < cost[idx])
        dec = cost[idx] - c_new
        small = np.max(np.abs(new - thi), axis=1) < 1e-8
        for m_, i in enumerate(idx.tolist()):
            if better[m_]:
                th[i], cost[i], g[i], A[i] = new[m_], c_new[m_], g_new[m_], A_new[m_]
                lik[i], gn[i] = l_new[m_], gn_new[m_]
                lam[i] = max(lam[i] / 3.0, 1e-9)
                if dec[m_] < 1e-9 * (1.0 + abs(cost[i])) or small[m_]:
                    active[i] = False
            else:
                lam[i] *= 4.0
                if lam[i] > 1e10 or small[m_]:
                    active[i] = False
    return _ModeResult(theta=th, lik=lik, gn=gn, ok=ok, evaluations=evals)


def _laplace_cov(su: _Setup, gn: Array, omega: Array) -> Array:
    """Laplace covariances ``(n, q, q)`` of the random parameters at the modes."""
    P = np.linalg.inv(omega)
    H = gn[:, su.ridx][:, :, su.ridx] + P[None]
    out: Array = np.linalg.inv(H)
    return out


def _neg2ll(su: _Setup, modes: _ModeResult, beta: Array, omega: Array) -> float:
    q = su.ridx.size
    P = np.linalg.inv(omega)
    d = modes.theta[:, su.ridx] - _prior_rows(su, beta, np.arange(len(su.subjects)))
    f = (
        modes.lik
        + 0.5 * np.einsum("nq,qr,nr->n", d, P, d)
        + 0.5 * np.linalg.slogdet(omega)[1]
        + 0.5 * q * math.log(2 * math.pi)
    )
    H = modes.gn[:, su.ridx][:, :, su.ridx] + P[None]
    logdet = np.linalg.slogdet(H)[1]
    return float(np.sum(2.0 * f + logdet - q * math.log(2 * math.pi)))


def _omega_params(q: int, full: bool) -> list[tuple[int, int]]:
    if full:
        return [(a, b) for a in range(q) for b in range(a, q)]
    return [(a, a) for a in range(q)]


def _standard_errors(
    su: _Setup, modes: _ModeResult, beta: Array, omega: Array
) -> tuple[Array, Array, Array, list[str]]:
    """Covariances of (fixed, beta) and of the Omega parameters by linearisation at the modes."""
    warns: list[str] = []
    P = np.linalg.inv(omega)
    ridx, fidx = su.ridx, su.fidx
    n = len(su.subjects)
    f, p = fidx.size, beta.size
    info = np.zeros((f + p, f + p))
    oparams = _omega_params(ridx.size, su.full_omega)
    info_o = np.zeros((len(oparams), len(oparams)))
    E = []
    for a, b in oparams:
        e = np.zeros((ridx.size, ridx.size))
        e[a, b] = e[b, a] = 1.0
        E.append(e)
    for i in range(n):
        gn = modes.gn[i]
        Hrr = gn[np.ix_(ridx, ridx)]
        Hrf = gn[np.ix_(ridx, fidx)]
        Hff = gn[np.ix_(fidx, fidx)]
        Xi = su.X[i]
        Ainv = np.linalg.inv(Hrr + P)
        C = np.concatenate([Hrf, -P @ Xi], axis=1)
        B = np.zeros((f + p, f + p))
        B[:f, :f] = Hff
        B[f:, f:] = Xi.T @ P @ Xi
        info += B - C.T @ Ainv @ C
        W = P - P @ Ainv @ P
        WE = [W @ e for e in E]
        for a in range(len(E)):
            for b in range(a, len(E)):
                v = 0.5 * float(np.trace(WE[a] @ WE[b]))
                info_o[a, b] += v
                if a != b:
                    info_o[b, a] += v
    cov_fb = _safe_inv(info, warns, "fixed effects / population means")
    cov_o = _safe_inv(info_o, warns, "Omega")
    return cov_fb, cov_o, np.asarray(oparams), warns


def _safe_inv(M: Array, warns: list[str], what: str) -> Array:
    try:
        out: Array = np.linalg.inv(M)
        if np.all(np.isfinite(out)) and np.all(np.diag(out) >= 0):
            return out
    except np.linalg.LinAlgError:
        pass
    warns.append(f"the Fisher information of the {what} is singular; standard errors are NaN")
    return np.full_like(M, np.nan)


# ---------------------------------------------------------------------- SAEM
@dataclass
class _State:
    beta: Array
    omega: Array
    phi: Array
    trace: list[dict[str, float]]
    evaluations: int = 0
    converged: bool = True
    info: dict[str, Any] = field(default_factory=dict)


def _mh_cycle(
    su: _Setup,
    TH: Array,
    L: Array,
    subj: Array,
    mrow: Array,
    omega: Array,
    rng: np.random.Generator,
    steps: tuple[int, int, int],
    scale: Array,
    acc: Array,
) -> int:
    """One cycle of the three Metropolis kernels on the random parameters (in place)."""
    ridx = su.ridx
    stack = su.stack
    chol = np.linalg.cholesky(omega)
    P = np.linalg.inv(omega)
    N, q = TH.shape[0], ridx.size
    evals = 0

    def prior_e(x: Array) -> Array:
        d = x - mrow
        out: Array = 0.5 * np.einsum("nq,qr,nr->n", d, P, d)
        return out

    # kernel 1: proposals from the population distribution (prior cancels)
    for _ in range(steps[0]):
        prop = TH.copy()
        prop[:, ridx] = mrow + rng.standard_normal((N, q)) @ chol.T
        Lp = stack.evaluate(prop, subj).value
        evals += 1
        a = np.log(rng.random(N)) < (L - Lp)
        TH[a], L[a] = prop[a], Lp[a]
        acc[0, 0] += a.mean()
        acc[0, 1] += 1
    # kernel 2: joint random walk with covariance scale**2 * Omega
    for _ in range(steps[1]):
        prop = TH.copy()
        prop[:, ridx] += scale[0] * (rng.standard_normal((N, q)) @ chol.T)
        Lp = stack.evaluate(prop, subj).value
        evals += 1
        lr = (L + prior_e(TH[:, ridx])) - (Lp + prior_e(prop[:, ridx]))
        a = np.log(rng.random(N)) < lr
        TH[a], L[a] = prop[a], Lp[a]
        rate = a.mean()
        acc[1, 0] += rate
        acc[1, 1] += 1
        scale[0] *= math.exp(0.5 * (rate - 0.3))
    # kernel 3: component-wise random walks
    sd = np.sqrt(np.diag(omega))
    for _ in range(steps[2]):
        for j in range(q):
            prop = TH.copy()
            prop[:, ridx[j]] += scale[1 + j] * sd[j] * rng.standard_normal(N)
            Lp = stack.evaluate(prop, subj).value
            evals += 1
            lr = (L + prior_e(TH[:, ridx])) - (Lp + prior_e(prop[:, ridx]))
            a = np.log(rng.random(N)) < lr
            TH[a], L[a] = prop[a], Lp[a]
            rate = a.mean()
            acc[2, 0] += rate
            acc[2, 1] += 1
            scale[1 + j] *= math.exp(0.5 * (rate - 0.4))
    return evals


def _saem(
    su: _Setup,
    st: _State,
    theta_init: Array,
    opts: PopulationOptions,
    rng: np.random.Generator,
) -> Array:
    n = len(su.subjects)
    q = su.ridx.size
    C = opts.chains if opts.chains is not None else int(min(8, max(1, math.ceil(50 / n))))
    subj = np.repeat(np.arange(n), C)
    TH = np.repeat(theta_init, C, axis=0)
    mrow = _prior_rows(su, st.beta, subj)
    TH[:, su.ridx] = mrow
    TH[:, su.fidx] = st.phi
    L = su.stack.evaluate(TH, subj).value
    st.evaluations += 1
    for _ in range(20):  # replace starts that cannot be simulated
        bad = ~np.isfinite(L)
        if not bad.any():
            break
        chol = np.linalg.cholesky(st.omega)
        prop = TH[bad].copy()
        prop[:, su.ridx] = mrow[bad] + rng.standard_normal((int(bad.sum()), q)) @ chol.T
        TH[bad] = prop
        L[bad] = su.stack.evaluate(prop, subj[bad]).value
        st.evaluations += 1
    if not np.all(np.isfinite(L)):
        bad_s = sorted({su.subjects[int(s)] for s in subj[~np.isfinite(L)]})
        raise FitError(
            f"population fit: the likelihood of subject(s) {bad_s[:5]} cannot be evaluated at the "
            "initial population parameters; check the bounds and initial values"
        )
    scale = np.concatenate([[0.5], np.full(q, 1.0)])
    acc = np.zeros((3, 2))
    S1 = TH[:, su.ridx].reshape(n, C, q).mean(axis=1)
    S2 = np.einsum("nq,nr->qr", TH[:, su.ridx], TH[:, su.ridx]) / C
    Hbar = np.ones(su.fidx.size)
    K = opts.n_burn + opts.n_smooth
    for it in range(K):
        gamma = 1.0 if it < opts.n_burn else 1.0 / (it - opts.n_burn + 1) ** 0.8
        mrow = _prior_rows(su, st.beta, subj)
        st.evaluations += _mh_cycle(
            su, TH, L, subj, mrow, st.omega, rng, opts.kernel_steps, scale, acc
        )
        R = TH[:, su.ridx]
        S1 = S1 + gamma * (R.reshape(n, C, q).mean(axis=1) - S1)
        S2 = S2 + gamma * (np.einsum("nq,nr->qr", R, R) / C - S2)
        beta, omega = _m_step(su, S1, S2, st.omega, opts.omega_min)
        if it < opts.n_burn:
            floor = opts.anneal * np.diag(st.omega)
            d = np.maximum(np.diag(omega), floor)
            if su.full_omega:
                s = np.sqrt(d / np.diag(omega))
                omega = omega * np.outer(s, s)
            else:
                omega = np.diag(d)
        st.beta, st.omega = beta, omega
        if su.fidx.size:
            g, H, ev = _fixed_newton(su, TH, subj, L)
            st.evaluations += ev
            g, H = g / C, H / C
            Hbar = Hbar + gamma * (np.maximum(H, 1e-8) - Hbar) if it else np.maximum(H, 1e-8)
            stepv = np.clip(-gamma * g / Hbar, -0.5, 0.5)
            lo, hi = su.stack.lo[su.fidx], su.stack.hi[su.fidx]
            st.phi = np.clip(st.phi + stepv, lo, hi)
            TH[:, su.fidx] = st.phi
            L = su.stack.evaluate(TH, subj).value
            st.evaluations += 1
        st.trace.append(_trace_row(su, it, gamma, st))
    st.info.update(
        chains=C,
        acceptance={
            "population": float(acc[0, 0] / max(acc[0, 1], 1)),
            "random_walk": float(acc[1, 0] / max(acc[1, 1], 1)),
            "componentwise": float(acc[2, 0] / max(acc[2, 1], 1)),
        },
    )
    cmean: Array = TH.reshape(n, C, -1).mean(axis=1)
    return cmean


def _conditional_draws(
    su: _Setup,
    st: _State,
    modes: _ModeResult,
    opts: PopulationOptions,
    rng: np.random.Generator,
    uncertainty: tuple[Array, Array, Array] | None = None,
) -> Array:
    """Draws of each subject's conditional distribution at the final population parameters.

    Metropolis-Hastings with two kernels informed by the Laplace approximation at the subject's
    mode (mode ``m_i``, covariance ``S_i``): independence proposals from a multivariate t(4)
    around ``m_i`` with scale ``S_i``, and random walks ``N(0, 2.38**2/q S_i)``. All subjects'
    proposals are one batched simulation per kernel step. Returns ``(subjects, draws, q)``.

    With ``uncertainty`` (the covariances of the fixed effects and ``beta``, and of the Omega
    parameters, from :func:`_standard_errors`), the draws are split into segments, each at
    population parameters drawn from their approximate sampling distribution, so that the
    individual intervals carry the estimation uncertainty of the population (a mixture over the
    population parameters instead of a plug-in).
    """
    n = len(su.subjects)
    q = su.ridx.size
    ridx = su.ridx
    C = opts.chains if opts.chains is not None else int(min(8, max(1, math.ceil(50 / n))))
    per_chain = max(2, math.ceil(opts.conditional_draws / C))
    burn = 25
    subj = np.repeat(np.arange(n), C)
    N = subj.size
    P = np.linalg.inv(st.omega)
    mrow = _prior_rows(su, st.beta, subj)
    Sig = _laplace_cov(su, modes.gn, st.omega)
    Sig = 0.5 * (Sig + np.transpose(Sig, (0, 2, 1)))
    try:
        Lc = np.linalg.cholesky(Sig)
    except np.linalg.LinAlgError:
        Lc = np.linalg.cholesky(np.broadcast_to(st.omega, Sig.shape).copy())
    Lc = Lc[subj]
    Sinv = np.linalg.inv(Sig)[subj]
    center = modes.theta[subj][:, ridx]
    nu = 4.0

    def log_q(x: Array) -> Array:
        d = x - center
        delta = np.einsum("nq,nqr,nr->n", d, Sinv, d)
        out: Array = -0.5 * (nu + q) * np.log1p(delta / nu)
        return out

    def neg_target(th: Array, lik: Array) -> Array:
        d = th[:, ridx] - mrow
        out: Array = lik + 0.5 * np.einsum("nq,qr,nr->n", d, P, d)
        return out

    TH = modes.theta[subj].copy()
    L = su.stack.evaluate(TH, subj).value
    st.evaluations += 1
    cur = neg_target(TH, L)
    draws = np.zeros((per_chain, N, q))
    acc = np.zeros(2)
    f = su.fidx.size
    segment = max(10, per_chain // 20)
    for t in range(burn + per_chain):
        if uncertainty is not None and t >= burn and (t - burn) % segment == 0:
            cov_fb, cov_o, opar = uncertainty
            x = rng.multivariate_normal(np.zeros(cov_fb.shape[0]), cov_fb)
            phi_k = np.clip(st.phi + x[:f], su.stack.lo[su.fidx], su.stack.hi[su.fidx])
            beta_k = st.beta + x[f:]
            dvar = np.diag(st.omega).copy()
            sd_o = np.sqrt(np.diag(cov_o))
            for a_, (i_, j_) in enumerate(opar.tolist()):
                if i_ == j_:
                    # log-normal draw of the variance with its relative SE (capped: a variance
                    # estimated near zero has an unbounded relative SE)
                    rel = min(sd_o[a_] / max(dvar[i_], 1e-300), 1.0)
                    dvar[i_] *= math.exp(rel * rng.standard_normal())
            sc = np.sqrt(dvar / np.diag(st.omega))
            omega_k = st.omega * np.outer(sc, sc)
            P = np.linalg.inv(omega_k)
            mrow = _prior_rows(su, beta_k, subj)
            if f:
                TH[:, su.fidx] = phi_k
                L = su.stack.evaluate(TH, subj).value
                st.evaluations += 1
            cur = neg_target(TH, L)
        # independence proposal (multivariate t around the mode)
        z = np.einsum("nqr,nr->nq", Lc, rng.standard_normal((N, q)))
        w = rng.chisquare(nu, N) / nu
        prop = TH.copy()
        prop[:, ridx] = center + z / np.sqrt(w)[:, None]
        Lp = su.stack.evaluate(prop, subj).value
        new = neg_target(prop, Lp)
        lr = cur - new + log_q(TH[:, ridx]) - log_q(prop[:, ridx])
        a = np.log(rng.random(N)) < lr
        TH[a], L[a], cur[a] = prop[a], Lp[a], new[a]
        acc[0] += a.mean()
        # random walk
        prop = TH.copy()
        prop[:, ridx] += (2.38 / math.sqrt(q)) * np.einsum(
            "nqr,nr->nq", Lc, rng.standard_normal((N, q))
        )
        Lp = su.stack.evaluate(prop, subj).value
        new = neg_target(prop, Lp)
        a = np.log(rng.random(N)) < (cur - new)
        TH[a], L[a], cur[a] = prop[a], Lp[a], new[a]
        acc[1] += a.mean()
        st.evaluations += 2
        if t >= burn:
            draws[t - burn] = TH[:, ridx]
    st.info["conditional_acceptance"] = {
        "independence": float(acc[0] / (burn + per_chain)),
        "random_walk": float(acc[1] / (burn + per_chain)),
    }
    st.info["conditional_chains"] = C
    out: Array = (
        draws.reshape(per_chain, n, C, q).transpose(1, 2, 0, 3).reshape(n, C * per_chain, q)
    )
    return out


def _trace_row(su: _Setup, it: int, gamma: float, st: _State) -> dict[str, float]:
    row: dict[str, float] = {"iteration": float(it), "step": gamma}
    for b, (p, c) in enumerate(su.beta_labels):
        row[f"mu({p})" if c is None else f"beta({p},{c})"] = float(st.beta[b])
    for j, r in enumerate(su.ridx.tolist()):
        row[f"omega({su.names[r]})"] = float(st.omega[j, j])
    for a, fi in enumerate(su.fidx.tolist()):
        row[f"fixed({su.names[fi]})"] = float(st.phi[a])
    return row


# ---------------------------------------------------------------------- Laplace-EM
def _laplace_em(su: _Setup, st: _State, theta_init: Array, opts: PopulationOptions) -> _ModeResult:
    n = len(su.subjects)
    th = theta_init.copy()
    th[:, su.ridx] = _prior_rows(su, st.beta, np.arange(n))
    th[:, su.fidx] = st.phi
    st.converged = False
    modes = _modes(su, th, st.beta, st.omega, opts.lm_iter)
    for it in range(opts.max_iter):
        st.evaluations += modes.evaluations
        bad = ~modes.ok
        if bad.any():
            raise FitError(
                f"population fit: the likelihood of subject(s) "
                f"{[su.subjects[i] for i in np.flatnonzero(bad)[:5]]} cannot be evaluated"
            )
        Sig = _laplace_cov(su, modes.gn, st.omega)
        R = modes.theta[:, su.ridx]
        S1 = R
        S2 = R.T @ R + Sig.sum(axis=0)
        old = np.concatenate([st.beta, np.log(np.diag(st.omega)), st.phi])
        st.beta, st.omega = _m_step(su, S1, S2, st.omega, opts.omega_min)
        if su.fidx.size:
            g, H, ev = _fixed_newton_laplace(su, modes, st.omega)
            st.evaluations += ev
            stepv = np.clip(-g / np.maximum(H, 1e-8), -0.5, 0.5)
            st.phi = np.clip(st.phi + stepv, su.stack.lo[su.fidx], su.stack.hi[su.fidx])
        new = np.concatenate([st.beta, np.log(np.diag(st.omega)), st.phi])
        st.trace.append(_trace_row(su, it, 1.0, st))
        th = modes.theta.copy()
        th[:, su.fidx] = st.phi
        modes = _modes(su, th, st.beta, st.omega, opts.lm_iter)
        if float(np.max(np.abs(new - old))) < opts.tol:
            st.converged = True
            break
    st.evaluations += modes.evaluations
    return modes
