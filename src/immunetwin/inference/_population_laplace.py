"""Laplace approximation of the population fit: conditional modes, Laplace-EM and the
linearised Fisher information of the population parameters (see :mod:`._population`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FitError
from ._population_setup import (
    PopulationOptions,
    _m_step,
    _prior_rows,
    _Setup,
    _State,
    _trace_row,
)

Array = np.ndarray[Any, Any]


# ---------------------------------------------------------------------- conditional modes
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


# ---------------------------------------------------------------------- Laplace-EM
def _fixed_newton_laplace(
    su: _Setup, modes: _ModeResult, omega: Array, h: float = 1e-3
) -> tuple[Array, Array, int]:
    """Like :func:`._population_algo._fixed_newton` for the Laplace objective ``L + 0.5 log|H_rr + Omega^-1|``."""
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
