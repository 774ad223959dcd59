"""Evaluation of a calibration problem: simulation, predictions, residuals and the objective.

:class:`_ProblemEvaluation` evaluates a batch of parameter vectors with one batched simulation
(with the engine's forward sensitivities), maps the outputs onto the observations' comparison
scale and stacks the residuals of the observations, of the estimated noise scales and of the
priors, whose half squared sum is the negative log posterior. It also collects the coefficient
terms those residuals need (:meth:`_ProblemEvaluation._finish_terms`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engine import MIN_PARALLEL_BATCH, AbstractEngine, threads_for
from ..errors import FitError
from ._likelihood import observation_constant, residuals
from ._maps import Residuals, Transform
from ._priors import PriorTerms
from ._problem_state import _TINY, _ProblemState

Array = np.ndarray[Any, Any]
_LN10 = math.log(10.0)


def _run_rows(task: tuple[Any, Array, Array, Array, Any, float]) -> tuple[Array, Array, Array]:
    """Integrate one block of members (runs in the calling process or an engine worker)."""
    from ..simulate import method_code

    cm, tout, ps, sens_idx, solver, t0 = task
    n = ps.shape[0]
    y, dy, status, _ = cm.run(
        tout,
        ps,
        sens_idx=sens_idx,
        method=method_code(solver.method),
        rtol=solver.rtol,
        atol=solver.atol,
        max_steps=solver.max_steps,
        t0=t0,
        parallel=bool(solver.parallel and threads_for(n) > 1),
    )
    ok = (status == 0) & np.all(np.isfinite(y.reshape(n, -1)), axis=1)
    return y, dy, ok


def run_batch(
    cm: Any,
    tout: Array,
    ps: Array,
    sens_idx: Array,
    solver: Any,
    t0: float,
    *,
    engine: AbstractEngine | None = None,
) -> tuple[Array, Array, Array]:
    """Run a compiled model on a parameter matrix with a problem's solver options.

    Returns ``(Y, dY, ok)``; ``ok`` is false for a member whose solve failed or gave a
    non-finite output. In the calling process the kernel spreads the members over threads as
    :func:`~immunetwin.engine.threads_for` decides; with a multi-worker ``engine`` the members
    are split into one block per worker (members are independent: the same numbers).
    """
    n = ps.shape[0]
    blocks = 1 if engine is None else min(engine.workers, n // MIN_PARALLEL_BATCH)
    if blocks <= 1:
        return _run_rows((cm, tout, ps, sens_idx, solver, t0))
    assert engine is not None
    rows = np.array_split(np.arange(n), blocks)
    parts = engine.map(
        _run_rows, [(cm, tout, ps[r], sens_idx, solver, t0) for r in rows], chunksize=1
    )
    y = np.concatenate([p[0] for p in parts])
    dy = np.concatenate([p[1] for p in parts])
    ok = np.concatenate([p[2] for p in parts])
    return y, dy, ok


class _ProblemEvaluation(_ProblemState):
    """The evaluation methods of a calibration problem (see ``CalibrationProblem``)."""

    # ------------------------------------------------------------------ coefficient terms
    def _finish_terms(self) -> None:
        """Collect the coefficient terms (prior Jacobians and sigma log terms)."""
        pt = self._prior_terms
        lin: dict[tuple[int, int], float] = {}
        for i, c, kd in zip(pt.lin_index, pt.lin_coef, pt.lin_kind, strict=True):
            lin[(int(i), int(kd))] = lin.get((int(i), int(kd)), 0.0) + float(c)
        obs_mask = self._code == 0
        lik_lin: dict[tuple[int, int], float] = {}
        const_lik = observation_constant(self._code, self._df)
        for i in np.unique(self._sig_param[obs_mask]):
            n_i = float(np.sum(obs_mask & (self._sig_param == i)))
            if i < 0:
                continue
            key = (int(i), 0 if self._log[i] else 1)
            lik_lin[key] = lik_lin.get(key, 0.0) + n_i
        fixed_mask = obs_mask & (self._sig_param < 0)
        const_lik += float(
            np.sum(np.log(self._sig_fixed[fixed_mask] * self._sig_scale[fixed_mask]))
        )
        est_mask = obs_mask & (self._sig_param >= 0)
        const_lik += float(np.sum(np.log(self._sig_scale[est_mask])))
        self._const_lik = const_lik
        self._lin_lik = self._lin_arrays(lik_lin)
        self._lin_prior = self._lin_arrays(lin)

    def _lin_arrays(
        self, terms: Mapping[tuple[int, int], float]
    ) -> tuple[Array, Array, Array, Array, float]:
        idx, kind, coef, ref = [], [], [], []
        const = 0.0
        for (i, kd), c in terms.items():
            if c == 0:
                continue
            bound = self._lo[i] if c > 0 else self._hi[i]
            if kd == 1:
                if bound <= 0:
                    raise FitError(f"'{self._names[i]}' needs a positive bound for its log term")
                u_ref = math.log(bound)
            else:
                u_ref = float(bound)
            idx.append(i)
            kind.append(kd)
            coef.append(c)
            ref.append(u_ref)
            const += c * u_ref - 0.5
        return (
            np.asarray(idx, dtype=np.int64),
            np.asarray(kind, dtype=np.int64),
            np.asarray(coef, dtype=float),
            np.asarray(ref, dtype=float),
            const,
        )

    # ------------------------------------------------------------------ evaluation
    def simulate_outputs(
        self, theta: Array, *, sensitivities: bool = True, times: Array | None = None
    ) -> tuple[Array, Array | None, Array, Array]:
        """Simulate a batch: ``(Y (N,T,m), dY/dslot (N,T,m,k_ode) or None, PS (N,P), ok (N,))``."""
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        N = th.shape[0]
        cm = self._cm
        ps = np.tile(self._ps0, (N, 1))
        nat = self.to_natural(th)
        if self._ode_idx.size:
            ps[:, self._ode_slots] = nat[:, self._ode_idx] * self._ode_factor
        tout = self._times if times is None else np.asarray(times, dtype=float)
        sidx = self._ode_slots if sensitivities else np.zeros(0, dtype=np.int64)
        y, dy, ok = run_batch(cm, tout, ps, sidx, self._solver, self._t0)
        return y, (dy if sensitivities else None), ps, ok

    def predict(self, theta: Array, *, jacobian: bool = True) -> tuple[Array, Array | None, Array]:
        """Predictions on the comparison scale at the observations.

        Returns ``mu (N, n)``, ``d mu / d theta (N, n, k)`` (or ``None``) and ``ok (N,)``.
        """
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        N, k = th.shape
        if k != self.n_parameters:
            raise FitError(f"theta has {k} columns; the problem estimates {self.n_parameters}")
        y, dy, ps, ok = self.simulate_outputs(th, sensitivities=jacobian)
        n = self.n_observations
        mu = np.empty((N, n))
        dmu = np.zeros((N, n, k)) if jacobian else None
        nat = self.to_natural(th)
        # d slot / d theta for ODE quantities
        dslot = nat[:, self._ode_idx] * self._ode_factor
        dslot = np.where(self._log[self._ode_idx], dslot, self._ode_factor)
        slot_to_theta = {
            int(s): int(i) for s, i in zip(self._ode_slots, self._ode_idx, strict=True)
        }
        for la in self._layouts:
            ti = self._tidx[la.obs]
            cols = []
            dcols: list[Array | None] = []
            for is_out, j in zip(la.sym_is_output, la.sym_index, strict=True):
                if is_out:
                    cols.append(y[:, ti, j])
                    if dmu is not None and dy is not None:
                        d = np.zeros((N, ti.size, k))
                        d[:, :, self._ode_idx] = dy[:, ti, j, :] * dslot[:, None, :]
                        dcols.append(d)
                else:
                    cols.append(np.broadcast_to(ps[:, j : j + 1], (N, ti.size)))
                    if dmu is not None:
                        d = np.zeros((N, ti.size, k))
                        if j in slot_to_theta:
                            i = slot_to_theta[j]
                            pos = int(np.flatnonzero(self._ode_idx == i)[0])
                            d[:, :, i] = dslot[:, pos : pos + 1]
                        dcols.append(d)
            draw: Array | None
            if la.expr_fn is None:
                raw = cols[0]
                draw = dcols[0] if dmu is not None else None
            else:
                raw = np.broadcast_to(np.asarray(la.expr_fn(*cols), dtype=float), (N, ti.size))
                draw = None
                if dmu is not None:
                    draw = np.zeros((N, ti.size, k))
                    for g, dc in zip(la.grad_fns, dcols, strict=True):
                        gv = np.broadcast_to(np.asarray(g(*cols), dtype=float), (N, ti.size))
                        assert dc is not None
                        draw += gv[:, :, None] * dc
            m: Array
            dm: Array | float
            if la.transform is Transform.IDENTITY:
                m, dm = raw, 1.0
            else:
                pos_raw = np.maximum(raw, _TINY)
                clamp = raw > _TINY
                if la.transform is Transform.LN:
                    m = np.log(pos_raw)
                    dm = np.where(clamp, 1.0 / pos_raw, 0.0)
                else:
                    m = np.log10(pos_raw)
                    dm = np.where(clamp, 1.0 / (pos_raw * _LN10), 0.0)
                    if la.transform is Transform.CT:
                        c = la.curve
                        assert c is not None
                        m = c.intercept + c.slope * (m - c.log10_factor)
                        dm = dm * c.slope
            mu[:, la.obs] = m
            if dmu is not None and draw is not None:
                dmu[:, la.obs, :] = draw * np.asarray(dm)[..., None] if np.ndim(dm) else draw
        ok = ok & np.all(np.isfinite(mu), axis=1)
        return mu, dmu, ok

    def residuals(self, theta: Array, *, jacobian: bool = True, prior: bool = True) -> Residuals:
        """Stacked residuals (observations, sigma terms, and priors unless ``prior=False``).

        ``theta`` has shape ``(k,)`` or ``(N, k)``; one batched simulation evaluates all rows.
        """
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        N, k = th.shape
        mu, dmu, ok = self.predict(th, jacobian=jacobian)
        nat = self.to_natural(th)
        sp_idx = self._sig_param
        est = sp_idx >= 0
        sigma = np.broadcast_to(self._sig_fixed * self._sig_scale, (N, sp_idx.size)).copy()
        if est.any():
            sigma[:, est] = nat[:, sp_idx[est]] * self._sig_scale[est]
        mu_safe = np.where(np.isfinite(mu), mu, 0.0)
        r_obs, dr_dmu, dr_dsig = residuals(
            mu_safe, sigma, self._value, self._lower, self._upper, self._code, self._df
        )
        blocks = [r_obs]
        jblocks: list[Array] = []
        if jacobian:
            assert dmu is not None
            j_obs = dr_dmu[:, :, None] * dmu
            if est.any():
                cols = sp_idx[est]
                # d sigma / d theta = sigma (log) or scale (natural)
                dsig_dth = np.where(self._log[cols], sigma[:, est], self._sig_scale[est])
                contrib = dr_dsig[:, est] * dsig_dth
                rows = np.flatnonzero(est)
                j_obs[:, rows, cols] += contrib
            jblocks.append(j_obs)
        const = self._const_lik
        terms = [self._lin_lik]
        if prior:
            terms.append(self._lin_prior)
        for idx, kind, coef, ref, c0 in terms:
            if idx.size == 0:
                continue
            t = th[:, idx]
            u = np.where(kind == 1, np.log(np.maximum(t, _TINY)), t)
            arg = np.maximum(2.0 * coef * (u - ref) + 1.0, 1e-12)
            r = np.sqrt(arg)
            blocks.append(r)
            const += c0
            if jacobian:
                du = np.where(kind == 1, 1.0 / np.maximum(t, _TINY), 1.0)
                jj = np.zeros((N, idx.size, k))
                jj[:, np.arange(idx.size), idx] = coef * du / r
                jblocks.append(jj)
        if prior:
            pt: PriorTerms = self._prior_terms
            const += pt.const
            if pt.sq_index.size:
                t = th[:, pt.sq_index]
                f = np.where(
                    pt.sq_fun == 1,
                    np.exp(np.where(pt.sq_fun == 1, t, 0.0)),
                    np.where(pt.sq_fun == 2, np.log(np.maximum(t, _TINY)), t),
                )
                blocks.append((f - pt.sq_a) / pt.sq_b)
                if jacobian:
                    df = np.where(
                        pt.sq_fun == 1, f, np.where(pt.sq_fun == 2, 1.0 / np.maximum(t, _TINY), 1.0)
                    )
                    jj = np.zeros((N, pt.sq_index.size, k))
                    jj[:, np.arange(pt.sq_index.size), pt.sq_index] = df / pt.sq_b
                    jblocks.append(jj)
            if pt.mvn_index.size:
                d = th[:, pt.mvn_index] - pt.mvn_mean
                blocks.append(d @ pt.mvn_chol_inv.T)
                if jacobian:
                    jj = np.zeros((N, pt.mvn_index.size, k))
                    jj[:, :, pt.mvn_index] = pt.mvn_chol_inv
                    jblocks.append(jj)
        r_all = np.concatenate(blocks, axis=1)
        j_all = np.concatenate(jblocks, axis=1) if jacobian else None
        ok = ok & np.all(np.isfinite(r_all), axis=1)
        if j_all is not None:
            ok = ok & np.all(np.isfinite(j_all.reshape(N, -1)), axis=1)
        return Residuals(r=r_all, jac=j_all, const=float(const), ok=ok)

    def objective(
        self, theta: Array, *, gradient: bool = False, prior: bool = True
    ) -> Array | tuple[Array, Array]:
        """Negative log posterior (or, with ``prior=False``, negative log likelihood).

        ``theta``: shape ``(k,)`` or ``(N, k)`` on the estimation scale. Returns the values
        ``(N,)`` (``+inf`` where the simulation failed) and, with ``gradient=True``, also the
        gradients ``(N, k)`` computed from the engine's forward sensitivities.
        """
        res = self.residuals(theta, jacobian=gradient, prior=prior)
        val = res.objective
        if not gradient:
            return val
        assert res.jac is not None
        grad = np.einsum("nr,nrk->nk", res.r, res.jac)
        grad = np.where(res.ok[:, None], grad, np.nan)
        return val, grad
