"""Algorithms of the population fit: SAEM and the conditional draws (see :mod:`._population`).

The setup and M-step live in :mod:`._population_setup`, the conditional modes, Laplace-EM and
the linearised Fisher information in :mod:`._population_laplace`; the names that
:mod:`._population` uses are re-exported here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import FitError
from ._population_laplace import _laplace_cov as _laplace_cov
from ._population_laplace import _laplace_em as _laplace_em
from ._population_laplace import _ModeResult as _ModeResult
from ._population_laplace import _modes as _modes
from ._population_laplace import _neg2ll as _neg2ll
from ._population_laplace import _standard_errors as _standard_errors
from ._population_setup import PopulationOptions as PopulationOptions
from ._population_setup import _collect_problems as _collect_problems
from ._population_setup import _m_step as _m_step
from ._population_setup import _prior_rows as _prior_rows
from ._population_setup import _Setup as _Setup
from ._population_setup import _setup as _setup
from ._population_setup import _State as _State
from ._population_setup import _trace_row as _trace_row

Array = np.ndarray[Any, Any]


# ---------------------------------------------------------------------- SAEM
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
