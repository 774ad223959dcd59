"""Batched Levenberg-Marquardt with bounds: many starts advance together.

Each iteration evaluates the residuals and their Jacobian (from the engine's forward
sensitivities) of every still-running start in ONE batched simulation, then takes a damped
Gauss-Newton step per start. Bounds are handled by an active set (a coordinate at a bound whose
gradient points outward is held) and by projecting the step onto the box. The work is split by
job: :func:`_propose` (steps of the running starts), :func:`_update` (accept or reject, damping
and trust radius, convergence tests) and :func:`_merge_converged` (stop starts that reached an
optimum another start already found).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._maps import Residuals
from ._problem import CalibrationProblem

__all__ = ["least_squares_batch"]

Array = np.ndarray[Any, Any]


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


@dataclass
class _LMState:
    """The working state of all starts (mutated in place by the steps)."""

    th: Array
    fx: Array
    r_cur: list[Array | None]
    j_cur: list[Array | None]
    cost: Array
    lam: Array
    nu: Array
    active: Array
    converged: Array
    merged: Array
    iters: Array
    msgs: list[str]
    gnorm: Array
    radius: Array


@dataclass(frozen=True)
class _Proposal:
    """Steps proposed for the running starts ``idx``."""

    idx: Array
    thi: Array
    new: Array
    d: Array
    pred: Array
    capped: Array


def _projected_gradient(g: Array, th: Array, lo: Array, hi: Array, fixed: Array) -> Array:
    pg = g.copy()
    at_lo = th <= lo + 1e-12
    at_hi = th >= hi - 1e-12
    pg[(at_lo & (g > 0)) | (at_hi & (g < 0)) | fixed] = 0.0
    return pg


def _init_state(res: Residuals, th: Array, fx: Array, lam0: float, max_step: float) -> _LMState:
    N = th.shape[0]
    active = np.isfinite(np.where(res.ok, 0.5 * np.sum(res.r**2, axis=1), np.inf))
    return _LMState(
        th=th,
        fx=fx,
        r_cur=[res.r[i] if res.ok[i] else None for i in range(N)],
        j_cur=[res.jac[i] if (res.ok[i] and res.jac is not None) else None for i in range(N)],
        cost=np.where(res.ok, 0.5 * np.sum(res.r**2, axis=1), np.inf),
        lam=np.full(N, float(lam0)),
        nu=np.full(N, 2.0),
        active=active,
        converged=np.zeros(N, dtype=bool),
        merged=np.zeros(N, dtype=bool),
        iters=np.zeros(N, dtype=np.int64),
        msgs=["" if active[i] else "simulation failed at the start" for i in range(N)],
        gnorm=np.full(N, np.inf),
        radius=np.full(N, float(max_step)),
    )


def _propose(st: _LMState, lo: Array, hi: Array, gtol: float) -> _Proposal | None:
    """Damped Gauss-Newton steps of the running starts (``None`` when none is left)."""
    idx = np.flatnonzero(st.active)
    if idx.size == 0:
        return None
    k = st.th.shape[1]
    J = np.stack([st.j_cur[i] for i in idx])  # type: ignore[misc]
    r = np.stack([st.r_cur[i] for i in idx])  # type: ignore[misc]
    g = np.einsum("nr,nrk->nk", r, J)
    A = np.einsum("nrk,nrl->nkl", J, J)
    thi = st.th[idx]
    pg = _projected_gradient(g, thi, lo, hi, st.fx[idx])
    st.gnorm[idx] = np.max(np.abs(pg), axis=1)
    done = st.gnorm[idx] < gtol
    for m in np.flatnonzero(done).tolist():
        i = int(idx[m])
        st.active[i] = False
        st.converged[i] = True
        st.msgs[i] = "gradient below gtol"
    keep = ~done
    idx, g, A, thi, pg = idx[keep], g[keep], A[keep], thi[keep], pg[keep]
    if idx.size == 0:
        return None
    free = (pg != 0.0) | ((g == 0.0) & ~st.fx[idx])
    diag = np.maximum(np.einsum("nkk->nk", A), 1e-12)
    M = A + (st.lam[idx, None] * diag)[:, :, None] * np.eye(k)[None]
    # hold the non-free coordinates
    Mf = np.where(free[:, :, None] & free[:, None, :], M, 0.0)
    Mf[:, np.arange(k), np.arange(k)] = np.where(free, np.einsum("nkk->nk", M), 1.0)
    gf = np.where(free, g, 0.0)
    try:
        step = -np.linalg.solve(Mf, gf[..., None])[..., 0]
    except np.linalg.LinAlgError:
        step = -gf / np.einsum("nkk->nk", Mf)
    big = np.max(np.abs(step), axis=1)
    capped = big > st.radius[idx]
    step = step * np.minimum(1.0, st.radius[idx] / np.maximum(big, 1e-300))[:, None]
    new = np.clip(thi + step, lo, hi)
    d = new - thi
    pred = -(np.einsum("nk,nk->n", g, d) + 0.5 * np.einsum("nk,nkl,nl->n", d, A, d))
    return _Proposal(idx=idx, thi=thi, new=new, d=d, pred=pred, capped=capped)


def _update(
    st: _LMState,
    pr: _Proposal,
    res: Residuals,
    ftol: float,
    xtol: float,
    max_step: float,
    gtol: float,
    gtol_rel: float,
) -> None:
    """Accept or reject each proposed step; adapt damping and radius; test convergence."""
    new_cost = np.where(res.ok, 0.5 * np.sum(res.r**2, axis=1), np.inf)
    cost = st.cost
    for m, i_ in enumerate(pr.idx):
        ii = int(i_)
        st.iters[ii] += 1
        thi, d = pr.thi, pr.d
        small_step = float(np.max(np.abs(d[m]))) <= xtol * (1.0 + float(np.max(np.abs(thi[m]))))
        if new_cost[m] < cost[ii]:
            gain = cost[ii] - new_cost[m]  # > 0 here
            # gain ratio; a vanishing predicted decrease (or a gain beyond float range) is a
            # very good step, not an overflow
            rho = gain / pr.pred[m] if pr.pred[m] > gain * 1e-300 else math.inf
            decrease = cost[ii] - new_cost[m]
            st.th[ii] = pr.new[m]
            cost[ii] = new_cost[m]
            st.r_cur[ii] = res.r[m]
            st.j_cur[ii] = res.jac[m] if res.jac is not None else None
            st.lam[ii] = st.lam[ii] * max(1.0 / 3.0, 1.0 - (2.0 * min(rho, 1.0) - 1.0) ** 3)
            st.nu[ii] = 2.0
            if pr.capped[m] and rho > 0.5:
                st.radius[ii] = min(2.0 * st.radius[ii], 4.0 * max_step)
            # a small decrease (or step) is convergence only where the gradient is small too:
            # a damped step in a narrow valley also decreases the objective little, and
            # stopping there reported far-from-optimal points as converged (Crauste)
            small_gradient = st.gnorm[ii] <= max(gtol, gtol_rel * (1.0 + cost[ii]))
            if (decrease <= ftol * (1.0 + cost[ii]) or small_step) and small_gradient:
                st.active[ii] = False
                st.converged[ii] = True
                st.msgs[ii] = "objective change below ftol" if not small_step else "step below xtol"
        else:
            st.lam[ii] *= st.nu[ii]
            st.nu[ii] *= 2.0
            if pr.capped[m]:
                st.radius[ii] = max(0.5 * st.radius[ii], 0.25 * max_step)
            if small_step or st.lam[ii] > 1e12:
                st.active[ii] = False
                st.converged[ii] = bool(st.gnorm[ii] < 1e-3 * (1.0 + abs(cost[ii])))
                st.msgs[ii] = "no further decrease (step too small)"


def _merge_converged(st: _LMState) -> None:
    """Stop a start that has reached the optimum another start already converged to.

    Same objective to 1e-6 and within 0.01 on the estimation scale: the rest of its path would
    only polish a known answer.
    """
    done_idx = np.flatnonzero(st.converged & ~st.merged)
    if not done_idx.size:
        return
    cost, th = st.cost, st.th
    for i_m in np.flatnonzero(st.active).tolist():
        for j_ in done_idx.tolist():
            if (
                abs(cost[i_m] - cost[j_]) <= 1e-6 * (1.0 + abs(cost[j_]))
                and float(np.max(np.abs(th[i_m] - th[j_]))) <= 1e-2
            ):
                st.active[i_m] = False
                st.converged[i_m] = True
                st.merged[i_m] = True
                st.msgs[i_m] = f"reached the optimum of start {j_}"
                break


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
    const = res.const
    st = _init_state(res, th, fx, lam0, max_step)
    evals = 1
    for _ in range(max_iter):
        pr = _propose(st, lo, hi, gtol)
        if pr is None:
            break
        res = problem.residuals(pr.new, jacobian=True, prior=prior)
        evals += 1
        _update(st, pr, res, ftol, xtol, max_step, gtol, gtol_rel)
        _merge_converged(st)
    for i_left in np.flatnonzero(st.active):
        st.msgs[int(i_left)] = f"maximum iterations ({max_iter}) reached"
    return _LSResult(
        theta=st.th,
        cost=st.cost,
        objective=st.cost + const,
        r=st.r_cur,
        jac=st.j_cur,
        converged=st.converged,
        iterations=st.iters,
        messages=st.msgs,
        gnorm=st.gnorm,
        evaluations=evals,
    )
