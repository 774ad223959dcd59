"""Stacked evaluation of many subjects' problems in one batched simulation, and time shifts.

A population fit evaluates the individual likelihoods of all subjects (and of several proposals
per subject) together: every row of a stacked parameter batch belongs to one subject, all rows
are integrated in ONE call of the engine on a shared output grid (the union of the subjects'
observation times, or a uniform grid when a time shift is estimated), and each subject's
residuals are then formed from its rows by the ordinary :class:`CalibrationProblem` code.

:func:`with_time_shift` makes a problem whose model clock starts at an estimated time (the
infection time ``t_inf`` on the data's clock): the model is integrated once on a uniform grid
from its start and every observation is read at ``t - t_inf`` by cubic (Catmull-Rom)
interpolation; ``d/d t_inf`` comes from the interpolant (central differences of width
``step/100`` on the C1 interpolant). Before the model start (``t < t_inf``) the outputs hold their
initial values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import AbstractEngine
from ..errors import FitError
from ._problem import CalibrationProblem
from ._problem_eval import run_batch

__all__ = ["StackEval", "SubjectStack", "with_time_shift"]

Array = np.ndarray[Any, Any]
_SimOut = tuple[Array, Array | None, Array, Array]


def _catmull_rom(Y: Array, x: Array) -> Array:
    """Interpolate ``Y (N, G, ...)`` on the uniform index grid at ``x (N, T)`` (grid units)."""
    G = Y.shape[1]
    x = np.clip(x, 0.0, G - 1.0 - 1e-9)
    j = np.floor(x).astype(np.int64)
    u = x - j
    rows = np.arange(Y.shape[0])[:, None]
    p0 = Y[rows, np.maximum(j - 1, 0)]
    p1 = Y[rows, j]
    p2 = Y[rows, np.minimum(j + 1, G - 1)]
    p3 = Y[rows, np.minimum(j + 2, G - 1)]
    extra = (1,) * (Y.ndim - 2)
    u = u.reshape(u.shape + extra)
    out: Array = 0.5 * (
        2.0 * p1
        + (p2 - p0) * u
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * u**2
        + (3.0 * (p1 - p2) + p3 - p0) * u**3
    )
    return out


def _catmull_rom_rows(Y: Array, rows: Array, x: Array) -> Array:
    """Interpolate ``Y (N, G, m)`` at flat points: row ``rows (M,)``, grid position ``x (M,)``."""
    G = Y.shape[1]
    x = np.clip(x, 0.0, G - 1.0 - 1e-9)
    j = np.floor(x).astype(np.int64)
    u = (x - j)[:, None]
    p0 = Y[rows, np.maximum(j - 1, 0)]
    p1 = Y[rows, j]
    p2 = Y[rows, np.minimum(j + 1, G - 1)]
    p3 = Y[rows, np.minimum(j + 2, G - 1)]
    out: Array = 0.5 * (
        2.0 * p1
        + (p2 - p0) * u
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * u**2
        + (3.0 * (p1 - p2) + p3 - p0) * u**3
    )
    return out


class _SubjectView(CalibrationProblem):
    """A CalibrationProblem whose simulation may be supplied from a stacked call (and shifted)."""

    _pv_shift: int
    _pv_step: float
    _pv_supplied: _SimOut | None
    _pv_direct: _SimOut | None
    _pv_tsel: Array | None
    _pv_grid: tuple[Array, Array, Array, Array] | None

    # -------------------------------------------------------------- time shift helpers
    def shift_grid(self) -> Array:
        """The uniform model-clock grid a shifted problem is integrated on."""
        lo, _ = self.bounds
        i = self._pv_shift
        tmin = float(self.to_natural(lo)[i])
        horizon = float(np.max(self._times)) - tmin
        n = int(np.ceil(max(horizon, 0.0) / self._pv_step)) + 4
        grid: Array = self._t0 + self._pv_step * np.arange(n)
        return grid

    def _shifted(self, theta: Array) -> Array:
        tinf = self.to_natural(theta)[:, self._pv_shift]
        s: Array = self._times[None, :] - tinf[:, None]
        return s

    def simulate_outputs(
        self, theta: Array, *, sensitivities: bool = True, times: Array | None = None
    ) -> _SimOut:
        if times is not None:
            return super().simulate_outputs(theta, sensitivities=sensitivities, times=times)
        if self._pv_direct is not None:
            return self._pv_direct
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        if self._pv_shift < 0:
            if self._pv_supplied is None or self._pv_tsel is None:
                return super().simulate_outputs(th, sensitivities=sensitivities)
            y, dy, ps, ok = self._pv_supplied
            sel = self._pv_tsel
            return y[:, sel], (dy[:, sel] if (sensitivities and dy is not None) else None), ps, ok
        if self._pv_supplied is None:
            sup = super().simulate_outputs(th, sensitivities=sensitivities, times=self.shift_grid())
        else:
            sup = self._pv_supplied
        yg, dyg, ps, ok = sup
        s = self._shifted(th)
        x = s / self._pv_step
        y = _catmull_rom(yg, x)
        dy = _catmull_rom(dyg, x) if (sensitivities and dyg is not None) else None
        self._pv_grid = (yg, ps, ok, x)
        return y, dy, ps, ok

    def predict(self, theta: Array, *, jacobian: bool = True) -> tuple[Array, Array | None, Array]:
        mu, dmu, ok = super().predict(theta, jacobian=jacobian)
        if self._pv_shift < 0 or not jacobian or dmu is None or self._pv_grid is None:
            return mu, dmu, ok
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        yg, ps, ok_s, x = self._pv_grid
        h = 1e-2  # grid units
        vals = []
        try:
            for sign in (1.0, -1.0):
                self._pv_direct = (_catmull_rom(yg, x + sign * h), None, ps, ok_s)
                m, _, _ = super().predict(th, jacobian=False)
                vals.append(m)
        finally:
            self._pv_direct = None
        dmu_ds_t = (vals[0] - vals[1]) / (2.0 * h * self._pv_step)  # (N, n_obs)
        inside = (x > h) & (x < yg.shape[1] - 2.0 - h)
        dmu_ds_t = np.where(inside[:, self._tidx], dmu_ds_t, 0.0)
        i = self._pv_shift
        dtinf = self.to_natural(th)[:, i] if self._log[i] else np.ones(th.shape[0])
        dmu = dmu.copy()
        dmu[:, :, i] -= dmu_ds_t * dtinf[:, None]
        return mu, dmu, ok


def _as_view(problem: CalibrationProblem) -> _SubjectView:
    new = object.__new__(_SubjectView)
    new.__dict__.update(problem.__dict__)
    if not isinstance(problem, _SubjectView):
        new._pv_shift = -1
        new._pv_step = 0.05
        new._pv_grid = None
    new._pv_supplied = None
    new._pv_direct = None
    new._pv_tsel = None
    return new


def with_time_shift(
    problem: CalibrationProblem, parameter: str = "t_inf", *, step: float = 0.05
) -> CalibrationProblem:
    """A copy of ``problem`` whose model clock starts at the estimated time ``parameter``.

    ``parameter`` must be an estimated parameter of the problem that the model's equations do
    not use (e.g. a parameter ``t_inf`` added to the model, ``Estimate("t_inf", -20, 5,
    log_scale=False)``): the model is integrated from its start ``t0`` and observation ``t`` is
    compared with the output at model time ``t0 + (t - t_inf)`` (the model's start is the
    infection); observations before ``t_inf`` see the initial outputs. The problem's ``t0`` must
    still precede the data times (the constructor checks it). ``step`` is the grid spacing of the interpolation (days).

    Raises
    ------
    FitError
        If ``parameter`` is not estimated, or the model uses it.
    """
    if parameter not in problem.names:
        raise FitError(f"with_time_shift: '{parameter}' is not estimated by the problem")
    i = problem.names.index(parameter)
    view = _as_view(problem)
    if i in set(view._ode_idx.tolist()):
        raise FitError(
            f"with_time_shift: the model uses '{parameter}'; the shift parameter must not enter "
            "the equations"
        )
    if not step > 0:
        raise FitError("with_time_shift: step must be positive")
    view._pv_shift = i
    view._pv_step = float(step)
    view._pv_grid = None
    return view


@dataclass(frozen=True)
class StackEval:
    """Per-row outcome of a stacked evaluation (individual negative log likelihood, no prior).

    ``value (N,)``; with the Jacobian also ``grad (N, k)`` and the Gauss-Newton matrix
    ``gn (N, k, k)``; ``ok (N,)``.
    """

    value: Array
    grad: Array | None
    gn: Array | None
    ok: Array


class SubjectStack:
    """All subjects' problems, evaluated row-wise in one batched simulation per call."""

    def __init__(
        self, problems: Sequence[CalibrationProblem], *, engine: AbstractEngine | None = None
    ) -> None:
        if not problems:
            raise FitError("population fit: no subjects")
        views = [_as_view(p) for p in problems]
        first = views[0]
        for v in views[1:]:
            if v.names != first.names:
                raise FitError(
                    f"population fit: subject '{v.subject}' estimates {list(v.names)}, subject "
                    f"'{first.subject}' estimates {list(first.names)}; every subject must "
                    "estimate the same parameters"
                )
            if v.model.hash() != first.model.hash():
                raise FitError(
                    f"population fit: subject '{v.subject}' uses model '{v.model.id}', others "
                    f"'{first.model.id}'; one model for all subjects"
                )
            if v._pv_shift != first._pv_shift or v._pv_step != first._pv_step:
                raise FitError(
                    f"population fit: subject '{v.subject}' has another time shift than "
                    f"'{first.subject}'"
                )
            if v._t0 != first._t0:
                raise FitError(f"population fit: subject '{v.subject}' has another t0")
        self.views = views
        self.engine = engine
        """Where the stacked simulations run (``None``: in this process)."""
        self.names = first.names
        self.k = len(first.names)
        self.n = len(views)
        self.shifted = first._pv_shift >= 0
        self._cm = first._cm
        self._solver = first.solver
        self._t0 = first._t0
        if self.shifted:
            grids = [v.shift_grid() for v in views]
            self.tout = max(grids, key=len)
        else:
            self.tout = np.unique(np.concatenate([v._times for v in views]))
            for v in views:
                v._pv_tsel = np.searchsorted(self.tout, v._times)
        lo = np.stack([v.bounds[0] for v in views])
        hi = np.stack([v.bounds[1] for v in views])
        self.lo = lo.max(axis=0)
        self.hi = hi.min(axis=0)
        if np.any(self.lo >= self.hi):
            raise FitError("population fit: the subjects' bounds do not overlap")
        self.n_obs = np.asarray([v.n_observations for v in views])
        self._fast = self._build_fast()

    # -------------------------------------------------------------- vectorised likelihood
    def _build_fast(self) -> dict[str, Any] | None:
        """Flat arrays of all subjects' observations for the no-Jacobian likelihood."""
        v0 = self.views[0]

        def key(v: _SubjectView) -> tuple[Any, ...]:
            return tuple(
                (la.name, la.transform, la.curve, la.symbols, la.sym_is_output, la.sym_index)
                for la in v._layouts
            )

        k0 = key(v0)
        if any(key(v) != k0 for v in self.views[1:]):
            return None
        parts: dict[str, list[Array]] = {
            n: []
            for n in (
                "value",
                "lower",
                "upper",
                "code",
                "df",
                "tidx",
                "time",
                "ana",
                "sp",
                "sf",
                "ss",
            )
        }
        k = self.k
        c_lin = np.zeros((self.n, k))
        c_log = np.zeros((self.n, k))
        const = np.zeros(self.n)
        for s, v in enumerate(self.views):
            ana = np.zeros(v.n_observations, dtype=np.int64)
            for a, la in enumerate(v._layouts):
                ana[la.obs] = a
            parts["value"].append(np.where(np.isfinite(v._value), v._value, 0.0))
            parts["lower"].append(v._lower)
            parts["upper"].append(v._upper)
            parts["code"].append(v._code)
            parts["df"].append(v._df)
            tid = v._pv_tsel[v._tidx] if v._pv_tsel is not None else v._tidx
            parts["tidx"].append(tid)
            parts["time"].append(v._times[v._tidx])
            parts["ana"].append(ana)
            parts["sp"].append(v._sig_param)
            parts["sf"].append(np.where(v._sig_param >= 0, 1.0, v._sig_fixed) * v._sig_scale)
            parts["ss"].append(v._sig_scale)
            idx, kind, coef, _, _ = v._lin_lik
            for i, kd, c in zip(idx.tolist(), kind.tolist(), coef.tolist(), strict=True):
                if kd == 0:
                    c_lin[s, i] += c
                else:
                    c_log[s, i] += c
            const[s] = v._const_lik
        fast: dict[str, Any] = {n: np.concatenate(p) for n, p in parts.items()}
        fast["start"] = np.concatenate([[0], np.cumsum(self.n_obs)[:-1]]).astype(np.int64)
        fast["c_lin"], fast["c_log"], fast["const"] = c_lin, c_log, const
        fast["layouts"] = v0._layouts
        return fast

    def _evaluate_fast(self, th: Array, subj: Array, y: Array, ps: Array, ok: Array) -> Array:
        from ._likelihood import residuals

        f = self._fast
        assert f is not None
        v0 = self.views[0]
        N = th.shape[0]
        cnt = self.n_obs[subj]
        rep = np.repeat(np.arange(N), cnt)
        offs = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        g = np.arange(int(cnt.sum())) - np.repeat(offs, cnt) + np.repeat(f["start"][subj], cnt)
        nat = v0.to_natural(th)
        if self.shifted:
            i = v0._pv_shift
            x = (f["time"][g] - nat[rep, i]) / v0._pv_step
            yo = _catmull_rom_rows(y, rep, x)  # (M, m)
        else:
            yo = y[rep, f["tidx"][g]]
        ana = f["ana"][g]
        mu = np.zeros(g.size)
        tiny = 1e-300
        for a, la in enumerate(f["layouts"]):
            sel = ana == a
            if not sel.any():
                continue
            cols = [
                yo[sel, j] if is_out else ps[rep[sel], j]
                for is_out, j in zip(la.sym_is_output, la.sym_index, strict=True)
            ]
            raw = cols[0] if la.expr_fn is None else np.asarray(la.expr_fn(*cols), dtype=float)
            raw = np.broadcast_to(raw, (int(sel.sum()),))
            if la.transform.value == "identity":
                m = raw
            elif la.transform.value == "ln":
                m = np.log(np.maximum(raw, tiny))
            else:
                m = np.log10(np.maximum(raw, tiny))
                if la.transform.value == "ct":
                    c = la.curve
                    m = c.intercept + c.slope * (m - c.log10_factor)
            mu[sel] = m
        sp = f["sp"][g]
        est = sp >= 0
        sigma = f["sf"][g].copy()
        if est.any():
            sigma[est] = nat[rep[est], sp[est]] * f["ss"][g][est]
        okm = np.isfinite(mu)
        mu = np.where(okm, mu, 0.0)
        r, _, _ = residuals(
            mu[None, :], sigma[None, :], f["value"][g], f["lower"][g], f["upper"][g],
            f["code"][g], f["df"][g],
        )  # fmt: skip
        val = 0.5 * np.bincount(rep, weights=r[0] ** 2, minlength=N)
        bad = np.bincount(rep, weights=(~okm | ~np.isfinite(r[0])).astype(float), minlength=N)
        val += f["const"][subj]
        val += np.sum(f["c_lin"][subj] * th, axis=1)
        cl = f["c_log"][subj]
        if np.any(cl):
            val += np.sum(np.where(cl != 0, cl * np.log(np.maximum(th, tiny)), 0.0), axis=1)
        out: Array = np.where(ok & (bad == 0) & np.isfinite(val), val, np.inf)
        return out

    def _simulate(self, theta: Array, subj: Array, sens: bool) -> _SimOut:
        cm = self._cm
        v0 = self.views[0]
        N = theta.shape[0]
        ps = np.stack([self.views[int(s)]._ps0 for s in subj]) if N else np.zeros((0, 1))
        nat = v0.to_natural(theta)
        if v0._ode_idx.size:
            ps[:, v0._ode_slots] = nat[:, v0._ode_idx] * v0._ode_factor
        sidx = v0._ode_slots if sens else np.zeros(0, dtype=np.int64)
        y, dy, ok = run_batch(cm, self.tout, ps, sidx, self._solver, self._t0, engine=self.engine)
        return y, (dy if sens else None), ps, ok

    def evaluate(self, theta: Array, subj: Array, *, jacobian: bool = False) -> StackEval:
        """Individual negative log likelihoods of rows ``theta (N, k)`` of subjects ``subj (N,)``."""
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        subj = np.asarray(subj, dtype=np.int64)
        N, k = th.shape
        inb = np.all((th >= self.lo) & (th <= self.hi), axis=1)
        th_c = np.clip(th, self.lo, self.hi)
        y, dy, ps, ok = self._simulate(th_c, subj, jacobian)
        if not jacobian and self._fast is not None:
            val = self._evaluate_fast(th_c, subj, y, ps, ok)
            ok_f = np.isfinite(val) & inb
            return StackEval(value=np.where(ok_f, val, np.inf), grad=None, gn=None, ok=ok_f)
        value = np.full(N, np.inf)
        grad = np.zeros((N, k)) if jacobian else None
        gn = np.zeros((N, k, k)) if jacobian else None
        ok_out = np.zeros(N, dtype=bool)
        order = np.argsort(subj, kind="stable")
        bounds = np.flatnonzero(np.diff(subj[order])) + 1
        for rows in np.split(order, bounds):
            if rows.size == 0:
                continue
            v = self.views[int(subj[rows[0]])]
            v._pv_supplied = (y[rows], dy[rows] if dy is not None else None, ps[rows], ok[rows])
            try:
                res = v.residuals(th_c[rows], jacobian=jacobian, prior=False)
            finally:
                v._pv_supplied = None
                v._pv_grid = None
            value[rows] = res.objective
            ok_out[rows] = res.ok & np.isfinite(res.objective)
            if jacobian and grad is not None and gn is not None and res.jac is not None:
                grad[rows] = np.einsum("nr,nrk->nk", res.r, res.jac)
                gn[rows] = np.einsum("nrk,nrl->nkl", res.jac, res.jac)
        ok_out &= inb
        value = np.where(ok_out, value, np.inf)
        return StackEval(value=value, grad=grad, gn=gn, ok=ok_out)
