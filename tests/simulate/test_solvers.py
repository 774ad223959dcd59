"""Tests of the compiled solvers (immunetwin.simulate.solvers) on hand-written model functions."""

from __future__ import annotations

import numpy as np
import pytest
from numba import cfunc, njit
from scipy.integrate import solve_ivp

from immunetwin.simulate.solvers import (
    MODEL_SIG,
    STATUS_OK,
    event_flags,
    solve_batch,
    solve_one,
    solver_code,
)

STATUS_STEP_UNDERFLOW = 2
STATUS_NONFINITE = 3
STATUS_SENS_STATE_EVENT = 4
STATUS_EVENT_CASCADE = 5
METHOD_AUTO = solver_code("auto")
METHOD_STIFF = solver_code("stiff")
METHOD_NONSTIFF = solver_code("nonstiff")

BOTH = [METHOD_STIFF, METHOD_NONSTIFF]
ALL = [METHOD_STIFF, METHOD_NONSTIFF, METHOD_AUTO]


@njit
def _zero(out, k):
    for i in range(k):
        out[i] = 0.0


# ---------------------------------------------------------------- models (hand-written ABI)
# decay: x' = -k x, x0 = p[1]; p = [k, x0, dose]; event 0 (optional): bolus x += dose at t >= 2
def _decay(mode, idx, t, x, p, out):
    if mode == 0:
        out[0] = -p[0] * x[0]
    elif mode == 1:
        out[0] = -p[0]
    elif mode == 2:
        out[0] = x[0]
    elif mode == 3:
        out[0] = 1.0 if t >= 2.0 else 0.0
    elif mode == 4:
        out[0] = x[0] + p[2]
    elif mode == 5:
        x[0] = out[0]
    elif mode == 6:
        out[0] = -x[0]
        out[1] = 0.0
        out[2] = 0.0
    elif mode == 7:
        out[0] = p[1]
    elif mode == 8:
        out[0] = 0.0
        out[1] = 1.0
        out[2] = 0.0
    elif mode == 9 or mode == 10 or mode == 11:
        out[0] = 0.0
    elif mode == 12:
        out[0] = 1.0
    elif mode == 13:
        _zero(out, 3)
    elif mode == 14:
        out[0] = 1.0
    elif mode == 15:
        out[0] = 0.0
        out[1] = 0.0
        out[2] = 1.0


decay = cfunc(MODEL_SIG)(_decay)


# Robertson: p = [0.04, 3e7, 1e4]
def _robertson(mode, idx, t, x, p, out):
    a, b, c = p[0], p[1], p[2]
    if mode == 0:
        out[0] = -a * x[0] + c * x[1] * x[2]
        out[1] = a * x[0] - c * x[1] * x[2] - b * x[1] * x[1]
        out[2] = b * x[1] * x[1]
    elif mode == 1:
        out[0] = -a
        out[1] = c * x[2]
        out[2] = c * x[1]
        out[3] = a
        out[4] = -c * x[2] - 2 * b * x[1]
        out[5] = -c * x[1]
        out[6] = 0.0
        out[7] = 2 * b * x[1]
        out[8] = 0.0
    elif mode == 2:
        out[0] = x[0]
        out[1] = x[1]
        out[2] = x[2]
    elif mode == 7:
        out[0] = 1.0
        out[1] = 0.0
        out[2] = 0.0
    elif mode == 11:
        _zero(out, 3)


robertson = cfunc(MODEL_SIG)(_robertson)


# Van der Pol x'' - mu (1 - x^2) x' + x = 0, p = [mu]
def _vdp(mode, idx, t, x, p, out):
    mu = p[0]
    if mode == 0:
        out[0] = x[1]
        out[1] = mu * (1 - x[0] * x[0]) * x[1] - x[0]
    elif mode == 1:
        out[0] = 0.0
        out[1] = 1.0
        out[2] = -2 * mu * x[0] * x[1] - 1
        out[3] = mu * (1 - x[0] * x[0])
    elif mode == 2:
        out[0] = x[0]
        out[1] = x[1]
    elif mode == 7:
        out[0] = 2.0
        out[1] = 0.0
    elif mode == 11:
        _zero(out, 2)


vdp = cfunc(MODEL_SIG)(_vdp)


# predator-prey with logistic prey, p = [r, K, a, b, d]; output y = x0 * x1 (nonlinear)
def _lv(mode, idx, t, x, p, out):
    r, K, a, b, d = p[0], p[1], p[2], p[3], p[4]
    if mode == 0:
        out[0] = r * x[0] * (1 - x[0] / K) - a * x[0] * x[1]
        out[1] = b * x[0] * x[1] - d * x[1]
    elif mode == 1:
        out[0] = r * (1 - 2 * x[0] / K) - a * x[1]
        out[1] = -a * x[0]
        out[2] = b * x[1]
        out[3] = b * x[0] - d
    elif mode == 2:
        out[0] = x[0]
        out[1] = x[0] * x[1]
    elif mode == 6:
        _zero(out, 10)
        out[0] = x[0] * (1 - x[0] / K)
        out[1] = r * x[0] * x[0] / (K * K)
        out[2] = -x[0] * x[1]
        out[8] = x[0] * x[1]
        out[9] = -x[1]
    elif mode == 7:
        out[0] = 1.0
        out[1] = 0.5
    elif mode == 8:
        _zero(out, 10)
    elif mode == 11:
        _zero(out, 2)
    elif mode == 12:
        out[0] = 1.0
        out[1] = 0.0
        out[2] = x[1]
        out[3] = x[0]
    elif mode == 13:
        _zero(out, 10)


lv = cfunc(MODEL_SIG)(_lv)
LV_P = np.array([1.5, 10.0, 1.0, 0.6, 0.8])


# growth with reset: x' = x; event 0: x >= 0.5 -> x := 0.1 (state-triggered)
def _reset(mode, idx, t, x, p, out):
    if mode == 0:
        out[0] = x[0]
    elif mode == 1:
        out[0] = 1.0
    elif mode == 2:
        out[0] = x[0]
    elif mode == 3:
        out[0] = 1.0 if x[0] >= 0.5 else 0.0
    elif mode == 4:
        out[0] = 0.1
    elif mode == 5:
        x[0] = out[0]
    elif mode == 6:
        out[0] = 0.0
    elif mode == 7:
        out[0] = 0.1
    elif mode == 8 or mode == 9 or mode == 10 or mode == 11 or mode == 13 or mode == 15:
        out[0] = 0.0
    elif mode == 12 or mode == 14:
        out[0] = 1.0


reset = cfunc(MODEL_SIG)(_reset)


# delayed events on x' = -x (x0 = 1), p = [delay]:
#  event 0: trigger t >= 1, delay p0, assignment x := 2 * x  evaluated at trigger time
#  event 1: trigger 1 <= t < 1.2, delay p0, assignment x := x + 10 (cancelled if non-persistent)
def _delayed(mode, idx, t, x, p, out):
    if mode == 0:
        out[0] = -x[0]
    elif mode == 1:
        out[0] = -1.0
    elif mode == 2:
        out[0] = x[0]
    elif mode == 3:
        out[0] = 1.0 if t >= 1.0 else 0.0
        out[1] = 1.0 if (t >= 1.0 and t < 1.2) else 0.0
    elif mode == 4:
        if idx == 0:
            out[0] = 2.0 * x[0]
        else:
            out[0] = x[0] + 10.0
    elif mode == 5:
        x[0] = out[0]
    elif mode == 7:
        out[0] = 1.0
    elif mode == 9:
        out[0] = p[0]
        out[1] = p[0]
    elif mode == 10 or mode == 11:
        _zero(out, 2)


delayed = cfunc(MODEL_SIG)(_delayed)


# x' = 0, x0 = 1; two events at t >= 1: A (x := 2x, priority p0), B (x := x + 1, priority p1)
def _prio(mode, idx, t, x, p, out):
    if mode == 0 or mode == 1 or mode == 11:
        out[0] = 0.0
    elif mode == 2:
        out[0] = x[0]
    elif mode == 3:
        out[0] = 1.0 if t >= 1.0 else 0.0
        out[1] = 1.0 if t >= 1.0 else 0.0
    elif mode == 4:
        out[0] = 2.0 * x[0] if idx == 0 else x[0] + 1.0
    elif mode == 5:
        x[0] = out[0]
    elif mode == 7:
        out[0] = 1.0
    elif mode == 9:
        _zero(out, 2)
    elif mode == 10:
        out[0] = p[0]
        out[1] = p[1]


prio = cfunc(MODEL_SIG)(_prio)


# cascades on x' = 0 (x = [x, y]): event 0: t >= 1 -> y := 1; event 1: y > 0.5 -> x := 5
# with p0 = 1 instead an endless cascade: event 2: x > 0.5 -> x := 0; event 3: x < 0.5 -> x := 1
def _cascade(mode, idx, t, x, p, out):
    if mode == 0 or mode == 11:
        _zero(out, 2)
    elif mode == 1:
        _zero(out, 4)
    elif mode == 2:
        out[0] = x[0]
        out[1] = x[1]
    elif mode == 3:
        out[0] = 1.0 if t >= 1.0 else 0.0
        out[1] = 1.0 if x[1] > 0.5 else 0.0
        on = p[0] > 0.5 and t >= 1.5
        out[2] = 1.0 if (on and x[0] > 0.5) else 0.0
        out[3] = 1.0 if (on and x[0] < 0.5) else 0.0
    elif mode == 4:
        if idx == 0:
            out[0] = 1.0
        elif idx == 1:
            out[0] = 5.0
        elif idx == 2:
            out[0] = 0.0
        else:
            out[0] = 1.0
    elif mode == 5:
        if idx == 0:
            x[1] = out[0]
        else:
            x[0] = out[0]
    elif mode == 7:
        _zero(out, 2)
    elif mode == 9 or mode == 10:
        _zero(out, 4)


cascade = cfunc(MODEL_SIG)(_cascade)


# blow-up x' = x^2, x(0) = 1 (x = 1 / (1 - t))
def _blowup(mode, idx, t, x, p, out):
    if mode == 0:
        out[0] = x[0] * x[0]
    elif mode == 1:
        out[0] = 2 * x[0]
    elif mode == 2:
        out[0] = x[0]
    elif mode == 7:
        out[0] = 1.0
    elif mode == 11:
        out[0] = 0.0


blowup = cfunc(MODEL_SIG)(_blowup)


def ev(ne, persistent=True, initial_value=False, from_trigger=False, has_delay=False,
       has_priority=False, n_assign=1, time_only=True):  # fmt: skip
    def arr(v, dt):
        return np.broadcast_to(np.asarray(v, dtype=dt), (ne,)).copy()

    return {
        "events": event_flags(
            ne,
            persistent=arr(persistent, bool),
            initial_value=arr(initial_value, bool),
            from_trigger=arr(from_trigger, bool),
            has_delay=arr(has_delay, bool),
            has_priority=arr(has_priority, bool),
            n_assign=arr(n_assign, np.int64),
            time_only=arr(time_only, bool),
        )
    }


def run(model, n, m, P, t_out, p, method=METHOD_AUTO, rtol=1e-8, atol=1e-10, sens=None,
        ne=0, x0=None, max_steps=100_000, **evk):  # fmt: skip
    x0 = np.full(n, np.nan) if x0 is None else np.asarray(x0, float)
    kw = ev(ne, **{a.removeprefix("ev_"): b for a, b in evk.items()}) if ne else {}
    return solve_one(model, n, m, P, ne, 0.0, np.asarray(t_out, float), x0, np.asarray(p, float),
                     method, rtol, atol, max_steps, 0.0, sens, **kw)  # fmt: skip


# ---------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("method", ALL)
def test_decay_analytic(method):
    t = np.linspace(0, 5, 21)
    Y, DY, st, tr = run(decay, 1, 1, 3, t, [1.3, 2.0, 0.0], method)
    assert st == STATUS_OK and tr == 5.0
    exact = 2.0 * np.exp(-1.3 * t)
    np.testing.assert_allclose(Y[:, 0], exact, rtol=1e-6)
    assert DY.shape == (21, 1, 0)


@pytest.mark.parametrize("method", [METHOD_STIFF, METHOD_AUTO])
def test_robertson_vs_radau(method):
    p = np.array([0.04, 3e7, 1e4])
    t = np.array([0.0, 0.4, 4.0, 40.0, 400.0, 4000.0])

    def f(_t, x):
        out = np.zeros(3)
        _robertson(0, 0, _t, x, p, out)
        return out

    ref = solve_ivp(f, (0, t[-1]), [1.0, 0.0, 0.0], method="Radau", rtol=1e-10, atol=1e-14,
                    t_eval=t).y.T  # fmt: skip
    Y, _, st, _ = run(robertson, 3, 3, 3, t, p, method, rtol=1e-9, atol=1e-14)
    assert st == STATUS_OK
    np.testing.assert_allclose(Y[:, [0, 2]], ref[:, [0, 2]], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(Y[:, 1], ref[:, 1], rtol=1e-5, atol=1e-14)


def test_van_der_pol_stiff_and_auto():
    t = np.linspace(0, 3000, 31)
    tight, _, st, _ = run(vdp, 2, 2, 1, t, [1000.0], METHOD_STIFF, rtol=1e-10, atol=1e-10)
    assert st == STATUS_OK
    # values of scipy's Radau (rtol 1e-10, atol 1e-12) at t = 0, 800, 900, 1700
    np.testing.assert_allclose(tight[[0, 8, 9, 17], 0],
                               [2.0, 1.08392336, -1.93644354, 1.94150283], atol=1e-7)  # fmt: skip
    for method in (METHOD_STIFF, METHOD_AUTO):
        # DOPRI5 alone would need more than 10^6 steps here: auto must switch to Rodas5
        Y, _, st, _ = run(vdp, 2, 2, 1, t, [1000.0], method, rtol=1e-8, atol=1e-8,
                          max_steps=20_000)  # fmt: skip
        assert st == STATUS_OK
        np.testing.assert_allclose(Y[:, 0], tight[:, 0], atol=1e-4)


@pytest.mark.parametrize("method", BOTH)
def test_time_event_bolus(method):
    k, x0, dose = 0.7, 2.0, 3.0
    t = np.array([0.0, 1.0, 1.999, 2.0, 2.5, 4.0])
    Y, DY, st, _ = run(decay, 1, 1, 3, t, [k, x0, dose], method, ne=1, sens=np.array([0, 1, 2]))
    assert st == STATUS_OK
    after = x0 * np.exp(-2 * k) + dose
    exact = np.where(t < 2.0, x0 * np.exp(-k * t), after * np.exp(-k * (t - 2.0)))
    np.testing.assert_allclose(Y[:, 0], exact, rtol=1e-7)  # t = 2.0 reports the post-event value
    # sensitivities across the time-triggered bolus
    dk = np.where(t < 2.0, -t * x0 * np.exp(-k * t),
                  -2 * x0 * np.exp(-2 * k) * np.exp(-k * (t - 2)) - (t - 2) * exact)  # fmt: skip
    dx0 = np.where(t < 2.0, np.exp(-k * t), np.exp(-2 * k) * np.exp(-k * (t - 2)))
    ddose = np.where(t < 2.0, 0.0, np.exp(-k * (t - 2)))
    np.testing.assert_allclose(DY[:, 0, 0], dk, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(DY[:, 0, 1], dx0, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(DY[:, 0, 2], ddose, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", BOTH)
def test_state_event_crossing(method):
    t = np.linspace(0.0, 2.5, 26)
    Y, _, st, _ = run(reset, 1, 1, 1, t, [0.0], method, ne=1, time_only=False)
    assert st == STATUS_OK
    ts = np.log(5.0)  # 0.1 e^t = 0.5
    exact = np.where(t < ts, 0.1 * np.exp(t), 0.1 * np.exp(t - ts))
    np.testing.assert_allclose(Y[:, 0], exact, rtol=1e-7)
    # the crossing is located to ~1e-12: evaluate right around it
    t2 = np.array([0.0, ts - 1e-7, ts + 1e-7])
    Y2, _, _, _ = run(reset, 1, 1, 1, t2, [0.0], method, ne=1, time_only=False)
    np.testing.assert_allclose(Y2[1:, 0], [0.5, 0.1], rtol=1e-6)


def test_state_event_with_sensitivities_is_refused():
    Y, DY, st, tr = run(reset, 1, 1, 1, np.linspace(0, 2.5, 26), [0.0], ne=1, time_only=False,
                        sens=np.array([0]))  # fmt: skip
    assert st == STATUS_SENS_STATE_EVENT
    assert tr == pytest.approx(np.log(5.0), abs=1e-7)
    assert np.isnan(Y[-1]).all() and np.isfinite(Y[0]).all()


@pytest.mark.parametrize("method", BOTH)
@pytest.mark.parametrize("persistent", [True, False])
def test_delayed_events(method, persistent):
    t = np.array([0.0, 1.0, 1.5, 1.6, 1.7, 3.0])
    Y, _, st, _ = run(delayed, 1, 1, 1, t, [0.5], method, ne=2, has_delay=True,
                      from_trigger=[True, False], persistent=persistent)  # fmt: skip
    assert st == STATUS_OK
    x = np.exp(-t)
    x = np.where(t >= 1.5, 2 * np.exp(-1.0) * np.exp(-(t - 1.5)), x)  # event 0 at 1.5, x(1) values
    if persistent:  # event 1 (triggered at 1.0, trigger false from 1.2) executes at 1.5 too
        x = np.where(t >= 1.5, (2 * np.exp(-1.0) + 10.0) * np.exp(-(t - 1.5)), x)
    np.testing.assert_allclose(Y[:, 0], x, rtol=1e-7)


@pytest.mark.parametrize(("pa", "pb", "expected"), [(2.0, 1.0, 3.0), (1.0, 2.0, 4.0)])
def test_simultaneous_events_priorities(pa, pb, expected):
    t = np.array([0.0, 0.5, 1.0, 2.0])
    Y, _, st, _ = run(prio, 1, 1, 2, t, [pa, pb], ne=2, has_priority=True)
    assert st == STATUS_OK
    np.testing.assert_allclose(Y[:, 0], [1.0, 1.0, expected, expected])


def test_event_at_t0_and_cascade():
    # trigger true at t0 with initial_value False fires at t0; output at t0 is post-event
    Y, _, st, _ = run(decay, 1, 1, 3, [0.0, 1.0], [0.0, 1.0, 2.0], ne=1,
                      x0=[1.0], ev_initial_value=np.array([False]))  # fmt: skip
    # (bolus at t >= 2 is false at t0: nothing happens)
    assert st == STATUS_OK and Y[0, 0] == 1.0

    def _always(mode, idx, t, x, p, out):
        if mode == 3:
            out[0] = 1.0
        elif mode == 4:
            out[0] = x[0] + 1.0
        elif mode == 5:
            x[0] = out[0]
        elif mode == 2:
            out[0] = x[0]
        else:
            out[0] = 0.0

    always = cfunc(MODEL_SIG)(_always)
    for init, expected in ((False, 1.0), (True, 0.0)):
        Y, _, st, _ = run(always, 1, 1, 1, [0.0, 1.0], [0.0], ne=1, x0=[0.0],
                          ev_initial_value=np.array([init]))  # fmt: skip
        assert st == STATUS_OK
        np.testing.assert_allclose(Y[:, 0], [expected, expected])

    t = np.array([0.0, 1.0, 2.0])
    Y, _, st, _ = run(cascade, 2, 2, 1, t, [0.0], ne=4, time_only=False)
    assert st == STATUS_OK
    np.testing.assert_allclose(Y[1], [5.0, 1.0])  # event 0 then (cascade) event 1 at t = 1
    Y, _, st, tr = run(cascade, 2, 2, 1, t, [1.0], ne=4, time_only=False)
    assert st == STATUS_EVENT_CASCADE
    assert tr == pytest.approx(1.5, abs=1e-9) and np.isnan(Y[2]).all()


@pytest.mark.parametrize("method", BOTH)
def test_sensitivities_decay_analytic(method):
    t = np.linspace(0, 5, 11)
    Y, DY, st, _ = run(decay, 1, 1, 3, t, [1.3, 2.0, 0.0], method, sens=np.array([0, 1]))
    assert st == STATUS_OK
    e = np.exp(-1.3 * t)
    np.testing.assert_allclose(DY[:, 0, 0], -t * 2.0 * e, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(DY[:, 0, 1], e, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("method", BOTH)
def test_sensitivities_vs_finite_differences(method):
    t = np.linspace(0, 10, 11)
    sens = np.array([0, 1, 2, 3, 4])
    Y, DY, st, _ = run(lv, 2, 2, 5, t, LV_P, method, rtol=1e-10, atol=1e-12, sens=sens)
    assert st == STATUS_OK
    fd = np.zeros_like(DY)
    for j in sens:
        dp = 1e-5 * LV_P[j]
        pp, pm = LV_P.copy(), LV_P.copy()
        pp[j] += dp
        pm[j] -= dp
        yp = run(lv, 2, 2, 5, t, pp, METHOD_STIFF, rtol=1e-12, atol=1e-14)[0]
        ym = run(lv, 2, 2, 5, t, pm, METHOD_STIFF, rtol=1e-12, atol=1e-14)[0]
        fd[:, :, j] = (yp - ym) / (2 * dp)
    scale = np.abs(fd).max(axis=0, keepdims=True)
    assert (np.abs(DY - fd) <= 1e-5 * scale + 1e-9).all()


@pytest.mark.parametrize("method", ALL)
def test_blowup_is_reported(method):
    t = np.linspace(0, 2, 5)
    Y, _, st, tr = run(blowup, 1, 1, 1, t, [0.0], method, rtol=1e-6, atol=1e-6)
    assert st in (STATUS_STEP_UNDERFLOW, STATUS_NONFINITE)
    assert 0.9 < tr < 1.001
    np.testing.assert_allclose(Y[:2, 0], [1.0, 2.0], rtol=1e-5)
    assert np.isnan(Y[3:]).all()  # t = 1.0 itself may be reached (the numerical blow-up is later)


@pytest.mark.parametrize("parallel", [True, False])
def test_batch_equals_member_by_member(parallel):
    rng = np.random.default_rng(0)
    N = 1000
    PS = LV_P * rng.lognormal(0.0, 0.2, (N, 5))
    X0 = np.full((N, 2), np.nan)
    X0[::2, 0] = rng.uniform(0.5, 2.0, N // 2)
    t = np.linspace(0, 8, 9)
    sens = np.array([0, 2])
    evk = ev(0)
    Y, DY, st, tr = solve_batch(lv, 2, 2, 5, 0, 0.0, t, X0, PS, METHOD_AUTO, 1e-7, 1e-9, 10_000,
                                0.0, sens, parallel=parallel, **evk)  # fmt: skip
    assert Y.shape == (N, 9, 2) and DY.shape == (N, 9, 2, 2)
    assert (st == STATUS_OK).all() and (tr == 8.0).all()
    for i in range(0, N, 37):
        y1, dy1, s1, _ = solve_one(lv, 2, 2, 5, 0, 0.0, t, X0[i], PS[i], METHOD_AUTO, 1e-7, 1e-9,
                                   10_000, 0.0, sens, **evk)  # fmt: skip
        assert s1 == st[i]
        np.testing.assert_array_equal(Y[i], y1)
        np.testing.assert_array_equal(DY[i], dy1)
