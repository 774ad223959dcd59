"""Evaluation of a :class:`~immunetwin.inference.PetabProblem`.

One call simulates every simulation unit (pre-equilibration and simulation condition) of every
parameter vector in one batch, evaluates the observable and noise formulas at the measurements
(with their derivatives: the engine's forward sensitivities chained through the formulas; central
finite differences when a unit is pre-equilibrated, overrides a state without an initial-value
slot, or crosses a state-triggered event) and stacks the residuals whose half squared sum plus
a constant is PEtab's negative log-likelihood.

Residuals: ``(T(y) - T(m)) / sigma`` (normal) or ``sign * sqrt(2 |T(y) - T(m)| / sigma)``
(laplace); a noise scale that depends on the parameters adds ``sqrt(2 ln sigma + C)`` with a
fixed offset ``C`` (a member whose ``2 ln sigma + C`` is not positive counts as failed).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._maps import Residuals
from ._petab_tables import PetabTables

Array = np.ndarray[Any, Any]
_LN10 = math.log(10.0)
_LOG2PI = math.log(2.0 * math.pi)
_SENS_EVENT = 4  # solver status: sensitivities stopped at a state-triggered event
_PRE_TIMES = np.asarray([1e2, 1e3, 1e4, 1e5, 1e6, 1e7])


class _PetabEvaluation:
    """Evaluation methods of a PEtab problem (attributes set by ``PetabProblem``)."""

    _cm: Any
    _tables: PetabTables
    _units: list[Any]
    _needs_fd: bool
    _sens_slots: Array
    _times: Array
    _m_value: Array
    _m_unit: Array
    _m_tidx: Array
    _by_obs: dict[str, Array]
    _sig_var: dict[str, bool]
    _sig_offset: float
    _sym_kind: dict[str, str]
    _slot_index: dict[str, int]
    _out_index: dict[str, int]
    _state_out: Array
    _fns: dict[str, Any]
    _log: Array
    _names: tuple[str, ...]
    _scales: tuple[str, ...]
    _petab_priors: tuple[tuple[int, str, float, float], ...]
    _solver: Any

    # ------------------------------------------------------------------ simulation
    def _slot_matrix(self, nat: Array, jac: bool) -> tuple[Array, Array | None, Array]:
        """Slot values ``(N, U, P)``, d slot / d theta on the sensitivity slots, and x0."""
        N, k = nat.shape
        cm = self._cm
        U = len(self._units)
        dnat = np.where(self._log, nat, 1.0)
        pos = {int(j): s for s, j in enumerate(self._sens_slots)}
        ps = np.empty((N, U, len(cm.slots)))
        G = np.zeros((N, U, len(pos), k)) if jac else None
        x0 = np.full((N, U, cm.n_states), np.nan)
        for u, (main, _pre, _p, _s) in enumerate(self._units):
            ps[:, u] = main[0]
            for j, src in main[1].items():
                f = self._factor(j)  # type: ignore[attr-defined]
                ps[:, u, j] = nat[:, src.index] * f
                if G is not None:
                    G[:, u, pos[j], src.index] = dnat[:, src.index] * f
            for st, src in main[2].items():
                x0[:, u, st] = self._amount(st, self._src_value(src, nat), ps[:, u])
        return ps, G, x0

    def _src_value(self, src: Any, nat: Array) -> Array:
        if src.index >= 0:
            out: Array = nat[:, src.index]
            return out
        return np.full(nat.shape[0], src.value)

    def _amount(self, st: int, value: Array, ps_u: Array) -> Array:
        sc = int(self._cm.scale_slots[st])
        return value * ps_u[:, sc] if sc >= 0 else value

    def _preequilibrate(self, nat: Array, ps: Array, x0: Array) -> Array:
        """Replace x0 of pre-equilibrated units by their steady states; returns ok ``(N,)``."""
        N = nat.shape[0]
        cm = self._cm
        ok = np.ones(N, dtype=bool)
        for u, (main, pre, _p, _s) in enumerate(self._units):
            if pre is None:
                continue
            pps = np.tile(pre[0], (N, 1))
            for j, src in pre[1].items():
                pps[:, j] = nat[:, src.index] * self._factor(j)  # type: ignore[attr-defined]
            px0 = np.full((N, cm.n_states), np.nan)
            for st, src in pre[2].items():
                px0[:, st] = self._amount(st, self._src_value(src, nat), pps)
            y, _, status, _ = cm.run(
                _PRE_TIMES,
                pps,
                x0=px0,
                rtol=self._solver.rtol,
                atol=self._solver.atol,
                max_steps=max(self._solver.max_steps, 100_000),
                method=1,
                parallel=False,
            )
            xs = y[:, :, self._state_out]
            scale = np.ones((N, cm.n_states))
            for st in range(cm.n_states):
                sc = int(cm.scale_slots[st])
                if sc >= 0:
                    scale[:, st] = pps[:, sc]
            last, prev = xs[:, -1] * scale, xs[:, -2] * scale
            steady = np.all(
                np.abs(last - prev) <= 1e-6 * np.abs(last) + 10 * self._solver.atol, axis=1
            )
            ok &= (status == 0) & steady & np.all(np.isfinite(last), axis=1)
            keep = np.ones(cm.n_states, dtype=bool)
            keep[list(main[3])] = False
            x0[:, u, keep] = last[:, keep]
        return ok

    def _simulate(
        self, th: Array, jac: bool
    ) -> tuple[Array, Array | None, Array, Array | None, Array, Array]:
        """Outputs ``(N, U, T, m)``, their theta-derivatives or None, slots, G, ok, and
        whether a member's sensitivities stopped at a state-triggered event."""
        from ..simulate import method_code

        N = th.shape[0]
        nat = self.to_natural(th)  # type: ignore[attr-defined]
        ps, G, x0 = self._slot_matrix(nat, jac)
        ok = (
            self._preequilibrate(nat, ps, x0)
            if any(u[1] for u in self._units)
            else np.ones(N, bool)
        )
        U = len(self._units)
        cm = self._cm
        sidx = self._sens_slots if jac else np.zeros(0, dtype=np.int64)
        y, dy, status, _ = cm.run(
            self._times,
            ps.reshape(N * U, -1),
            x0=x0.reshape(N * U, -1),
            sens_idx=sidx,
            method=method_code(self._solver.method),
            rtol=self._solver.rtol,
            atol=self._solver.atol,
            max_steps=self._solver.max_steps,
            t0=0.0,
            parallel=bool(N * U >= 4),
        )
        T, m = y.shape[1], y.shape[2]
        Y = y.reshape(N, U, T, m)
        good = (status == 0).reshape(N, U).all(axis=1)
        at_event = (
            (status == _SENS_EVENT).reshape(N, U).any(axis=1) if jac else np.zeros(N, dtype=bool)
        )
        dY = dy.reshape(N, U, T, m, -1) if jac else None
        return Y, dY, ps, G, ok & good, at_event

    # ------------------------------------------------------------------ formulas
    def _symbol(
        self,
        name: str,
        rows: Array,
        Y: Array,
        dY: Array | None,
        ps: Array,
        G: Array | None,
        nat: Array,
    ) -> tuple[Array, Array | None]:
        N, k = nat.shape
        n = rows.size
        u, t = self._m_unit[rows], self._m_tidx[rows]
        kind = self._sym_kind[name]
        dnat = np.where(self._log, nat, 1.0)
        d: Array | None = None
        if kind == "output":
            j = self._out_index[name]
            v = Y[:, u, t, j]
            if dY is not None and G is not None:
                d = np.einsum("nrs,nrsk->nrk", dY[:, u, t, j, :], G[:, u])
        elif kind == "slot":
            j = self._slot_index[name]
            v = ps[:, u, j]
            if G is not None:
                hit = np.flatnonzero(self._sens_slots == j)
                d = G[:, u, int(hit[0]), :] if hit.size else np.zeros((N, n, k))
        elif kind == "time":
            v = np.broadcast_to(self._times[t], (N, n))
            d = np.zeros((N, n, k)) if G is not None else None
        else:
            srcs = [self._row_source(name, int(r)) for r in rows]
            idx = np.asarray([s.index for s in srcs], dtype=np.int64)
            const = np.asarray([s.value for s in srcs], dtype=float)
            v = np.where(idx >= 0, nat[:, np.maximum(idx, 0)], const)
            if G is not None:
                d = np.zeros((N, n, k))
                est = np.flatnonzero(idx >= 0)
                d[:, est, idx[est]] = dnat[:, idx[est]]
        return np.asarray(v, dtype=float), d

    def _row_source(self, name: str, row: int) -> Any:
        if self._sym_kind[name] == "table":
            return self._tables.sources[name]
        m = self._tables.measurements[row]
        head, _, _ = name.partition("_")
        j = int(head.removeprefix("observableParameter").removeprefix("noiseParameter")) - 1
        return (m.obs_pars if head.startswith("observable") else m.noise_pars)[j]

    def _formulas(
        self, oid: str, Y: Array, dY: Array | None, ps: Array, G: Array | None, nat: Array
    ) -> tuple[Array, Array | None, Array, Array | None]:
        rows = self._by_obs[oid]
        syms, f, df, g, dg = self._fns[oid]
        N, n = nat.shape[0], rows.size
        vals, ders = [], []
        for s in syms:
            v, d = self._symbol(s, rows, Y, dY, ps, G, nat)
            vals.append(v)
            ders.append(d)
        y = np.broadcast_to(np.asarray(f(*vals), dtype=float), (N, n))
        sig = np.broadcast_to(np.asarray(g(*vals), dtype=float), (N, n))
        if G is None:
            return y, None, sig, None
        dyv = np.zeros((N, n, nat.shape[1]))
        dsig = np.zeros_like(dyv)
        for d, fi, gi in zip(ders, df, dg, strict=True):
            assert d is not None
            dyv += np.broadcast_to(np.asarray(fi(*vals), dtype=float), (N, n))[..., None] * d
            dsig += np.broadcast_to(np.asarray(gi(*vals), dtype=float), (N, n))[..., None] * d
        return y, dyv, sig, dsig

    def evaluate(
        self, theta: Array, *, jacobian: bool = True
    ) -> tuple[Array, Array | None, Array, Array | None, Array]:
        """Simulated observables and noise scales at the measurements.

        Returns ``sim (N, M)``, ``d sim / d theta (N, M, k)`` (or None), ``sigma (N, M)``,
        ``d sigma / d theta`` (or None) and ``ok (N,)``.
        """
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        if jacobian and self._needs_fd:
            return self._evaluate_fd(th)
        N, k = th.shape
        M = self._m_value.size
        nat = self.to_natural(th)  # type: ignore[attr-defined]
        Y, dY, ps, G, ok, at_event = self._simulate(th, jacobian)
        Y = np.where(np.isfinite(Y), Y, 0.0)
        sim = np.empty((N, M))
        sig = np.empty((N, M))
        dsim = np.zeros((N, M, k)) if jacobian else None
        dsig = np.zeros((N, M, k)) if jacobian else None
        for oid, rows in self._by_obs.items():
            with np.errstate(all="ignore"):
                y, dy, s, ds = self._formulas(oid, Y, dY, ps, G, nat)
            sim[:, rows], sig[:, rows] = y, s
            if dsim is not None and dsig is not None and dy is not None and ds is not None:
                dsim[:, rows], dsig[:, rows] = dy, ds
        ok = ok & np.isfinite(sim).all(axis=1) & np.isfinite(sig).all(axis=1)
        if at_event.any() and dsim is not None and dsig is not None:
            # the engine has no sensitivities across state-triggered events: central
            # differences for those members (their trajectories are piecewise smooth)
            sub = np.flatnonzero(at_event)
            s_, ds_, g_, dg_, ok_ = self._evaluate_fd(th[sub])
            sim[sub], dsim[sub], sig[sub], dsig[sub], ok[sub] = s_, ds_, g_, dg_, ok_
        return sim, dsim, sig, dsig, ok

    def _evaluate_fd(self, th: Array) -> tuple[Array, Array, Array, Array, Array]:
        N, k = th.shape
        h = 1e-4 * (1.0 + np.abs(th))
        lo, hi = self._lo, self._hi  # type: ignore[attr-defined]
        plus = np.repeat(th[:, None, :], k, axis=1)
        minus = plus.copy()
        ar = np.arange(k)
        plus[:, ar, ar] = np.minimum(th + h, hi + h)
        minus[:, ar, ar] = np.maximum(th - h, lo - h)
        big = np.concatenate([th, plus.reshape(N * k, k), minus.reshape(N * k, k)])
        sim, _, sig, _, ok = self.evaluate(big, jacobian=False)
        M = sim.shape[1]
        width = (plus[:, ar, ar] - minus[:, ar, ar])[:, None, :]
        sp_, sm_ = sim[N : N + N * k].reshape(N, k, M), sim[N + N * k :].reshape(N, k, M)
        gp_, gm_ = sig[N : N + N * k].reshape(N, k, M), sig[N + N * k :].reshape(N, k, M)
        dsim = (sp_ - sm_).transpose(0, 2, 1) / width
        dsig = (gp_ - gm_).transpose(0, 2, 1) / width
        okk = (
            ok[:N]
            & ok[N : N + N * k].reshape(N, k).all(axis=1)
            & ok[N + N * k :].reshape(N, k).all(axis=1)
        )
        return sim[:N], dsim, sig[:N], dsig, okk

    # ------------------------------------------------------------------ residuals
    def _transformed(self, sim: Array, dsim: Array | None) -> tuple[Array, Array | None, Array]:
        """Simulation and measurement on the observables' transformation scales."""
        ts = sim.copy()
        tm = self._m_value.copy()
        dts = None if dsim is None else dsim.copy()
        for oid, rows in self._by_obs.items():
            tr = self._tables.observables[oid].transform
            if tr == "lin":
                continue
            y = np.maximum(sim[:, rows], 1e-300)
            div = _LN10 if tr == "log10" else 1.0
            ts[:, rows] = np.log(y) / div
            tm[rows] = np.log(self._m_value[rows]) / div
            if dts is not None:
                dts[:, rows] = dts[:, rows] / (y * div)[..., None]
        return ts, dts, tm

    def _distribution_masks(self) -> tuple[Array, Array, float]:
        lap = np.zeros(self._m_value.size, dtype=bool)
        var = np.zeros(self._m_value.size, dtype=bool)
        jac_const = 0.0
        for oid, rows in self._by_obs.items():
            od = self._tables.observables[oid]
            lap[rows] = od.distribution == "laplace"
            var[rows] = self._sig_var[oid]
            m = self._m_value[rows]
            if od.transform == "log":
                jac_const += float(np.sum(np.log(m)))
            elif od.transform == "log10":
                jac_const += float(np.sum(np.log(m * _LN10)))
        return lap, var, jac_const

    def _residuals(self, theta: Array, *, jacobian: bool = True, prior: bool = True) -> Residuals:
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        N, k = th.shape
        sim, dsim, sig, dsig, ok = self.evaluate(th, jacobian=jacobian)
        ts, dts, tm = self._transformed(sim, dsim)
        lap, var, const = self._distribution_masks()
        sig_safe = np.where(sig > 0, sig, np.nan)
        diff = ts - tm
        z = diff / sig_safe
        r = np.where(lap, np.sign(diff) * np.sqrt(2.0 * np.abs(z)), z)
        const += float(np.sum(np.where(lap, math.log(2.0), 0.5 * _LOG2PI)))
        fixed_sig = sig_safe[0, ~var]
        const += float(np.sum(np.log(fixed_sig))) if fixed_sig.size else 0.0
        C = self._sig_offset
        arg = 2.0 * np.log(sig_safe[:, var]) + C
        r_sig = np.sqrt(np.where(arg > 0, arg, np.nan))
        const -= 0.5 * C * int(var.sum())
        blocks, jblocks = [r, r_sig], []
        if jacobian:
            assert dts is not None and dsig is not None
            s3 = sig_safe[..., None]
            j_norm = dts / s3 - z[..., None] * dsig / s3
            root = np.maximum(np.sqrt(2.0 * np.abs(z)), 1e-8)[..., None]
            j_lap = (np.sign(diff)[..., None] * dts / s3 - np.abs(z)[..., None] * dsig / s3) / root
            j_lap = j_lap * np.sign(diff)[..., None]
            jblocks.append(np.where(lap[None, :, None], j_lap, j_norm))
            jblocks.append(dsig[:, var] / (sig_safe[:, var] * r_sig)[..., None])
        if prior and self._petab_priors:
            pr, pj, pc = self._prior_residuals(th, jacobian)
            blocks.append(pr)
            const += pc
            if jacobian:
                jblocks.append(pj)
        r_all = np.concatenate(blocks, axis=1)
        j_all = np.concatenate(jblocks, axis=1) if jacobian else None
        ok = ok & np.isfinite(r_all).all(axis=1)
        if j_all is not None:
            ok = ok & np.isfinite(j_all.reshape(N, -1)).all(axis=1)
        return Residuals(r=np.where(np.isfinite(r_all), r_all, 0.0), jac=j_all, const=const, ok=ok)

    def _prior_residuals(self, th: Array, jacobian: bool) -> tuple[Array, Array, float]:
        N, k = th.shape
        res = []
        jac = np.zeros((N, 0, k))
        const = 0.0
        for i, kind, a, b in self._petab_priors:
            t = th[:, i]
            scale = self._scales[i]
            if kind.startswith("parameterScale"):
                val = t / _LN10 if scale == "log10" else t
                dv = np.full(N, 1.0 / _LN10 if scale == "log10" else 1.0)
            else:
                val = np.exp(t) if scale != "lin" else t
                dv = val if scale != "lin" else np.ones(N)
            if kind.endswith("ormal"):
                res.append((val - a) / b)
                const += math.log(b) + 0.5 * _LOG2PI
                row = np.zeros((N, 1, k))
                row[:, 0, i] = dv / b
                jac = np.concatenate([jac, row], axis=1)
            else:  # uniform: a constant density on the bounds
                const += math.log(b - a)
        r = np.stack(res, axis=1) if res else np.zeros((N, 0))
        return r, jac, const

    # ------------------------------------------------------------------ PEtab numbers
    def nllh(self, theta: Array | None = None) -> Array:
        """PEtab negative log-likelihood (no priors) per parameter vector, shape ``(N,)``."""
        th = self.nominal if theta is None else theta  # type: ignore[attr-defined]
        return self._residuals(th, jacobian=False, prior=False).objective

    def chi2(self, theta: Array | None = None) -> Array:
        """PEtab chi-square: sum of squared (transformed) residuals over the noise scale."""
        th = np.atleast_2d(self.nominal if theta is None else theta)  # type: ignore[attr-defined]
        sim, _, sig, _, ok = self.evaluate(th, jacobian=False)
        ts, _, tm = self._transformed(sim, None)
        out: Array = np.sum(((ts - tm) / sig) ** 2, axis=1)
        return np.where(ok, out, np.inf)
