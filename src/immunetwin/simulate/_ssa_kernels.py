"""The stochastic simulation kernel: Gillespie's direct method and tau-leaping, batched.

One run (:func:`run_one`) follows the direct method (D. T. Gillespie, J. Phys. Chem. 81(25),
1977): with total propensity ``a0``, the next reaction comes after an exponential time of rate
``a0`` and is reaction ``j`` with probability ``a_j / a0``. Between reactions nothing but the
clocks (rate-rule variables, linear in time) and time itself changes, so the run stops exactly

* at the next reaction,
* at the next pending (delayed) event execution,
* where a condition that depends on time or a clock flips (found by bisection down to adjacent
  floating-point numbers; conditions monotone between two reactions, such as linear ones, are
  found exactly), after which the reaction time is drawn afresh (exact, as waiting times are
  memoryless),
* at the end.

After every stop, triggers are evaluated and due events executed (``_ssa_events``). Outputs at
an output time are taken after the events of that time (right-continuous paths).

Tau-leaping (method 1) selects the leap by Cao, Gillespie and Petzold's bound on the relative
change of the propensities (J. Chem. Phys. 124, 044109, 2006; ``epsilon``), fires Poisson
numbers of each reaction over the leap, halves a leap that would make a count negative, and
falls back to one exact step when the leap would hold fewer than 10 expected reactions. Events
and conditions stop leaps as they stop exact steps; triggers that depend on counts are checked
at the end of each leap.

:func:`run_batch` runs members in parallel (``prange``); member ``i`` uses parameter row
``i // runs`` and a generator seeded from ``(key, i)``, so results do not depend on threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._ssa_events import (
    BAD_PROPENSITY,
    CASCADE,
    MAX_STEPS,
    NAN_STATE,
    OK,
    TRIGGERS,
    call,
    next_pending,
    on_triggers,
    process_due,
    ptr,
)
from ._ssa_random import poisson, seed_state, uniform01

PROPENSITIES, FIRE, OUTPUTS, INIT, RATES, CONDITIONS = 0, 1, 2, 6, 9, 10
DIRECT, TAU_LEAP = 0, 1

STATUS_MESSAGES = {
    MAX_STEPS: "too many steps (raise max_steps, or use method='tau-leap' for large counts)",
    BAD_PROPENSITY: "a propensity is negative or not a number",
    CASCADE: "an event cascade that does not end (or too many pending events)",
    NAN_STATE: "a state became NaN (a random draw with invalid arguments, or a truncated draw "
    "that never fell inside its bounds)",
}


@njit(cache=True, error_model="numpy", inline="always")
def _advance(x, rate, dt, out):
    for i in range(x.shape[0]):
        out[i] = x[i] + rate[i] * dt


@njit(cache=True, error_model="numpy", inline="always")
def _record(f, t, x, rate, xt, p, rng, clocks, tout, io, t_lim, inclusive, Y):
    """Outputs at the output times before ``t_lim`` (or at it, when ``inclusive``)."""
    T = tout.shape[0]
    m = Y.shape[1]
    while io < T and (tout[io] < t_lim or (inclusive and tout[io] <= t_lim)):
        tk = tout[io]
        if clocks:
            _advance(x, rate, tk - t, xt)
            call(f, OUTPUTS, 0, tk, ptr(xt, 0), ptr(p, 0), ptr(Y, io * m), ptr(rng, 0))
        else:
            call(f, OUTPUTS, 0, tk, ptr(x, 0), ptr(p, 0), ptr(Y, io * m), ptr(rng, 0))
        io += 1
    return io


@njit(cache=True, error_model="numpy", inline="always")
def _same(a, b):
    for k in range(a.shape[0]):  # noqa: SIM110 - numba compiles loops, not generators
        if (a[k] > 0.5) != (b[k] > 0.5):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _crossing(f, t, t_lim, x, rate, xt, p, rng, c0, c1):
    """The first time in ``(t, t_lim]`` at which a condition differs from ``c0``, else -inf."""
    _advance(x, rate, t_lim - t, xt)
    call(f, CONDITIONS, 0, t_lim, ptr(xt, 0), ptr(p, 0), ptr(c1, 0), ptr(rng, 0))
    if _same(c0, c1):
        return -math.inf
    lo, hi = t, t_lim
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        _advance(x, rate, mid - t, xt)
        call(f, CONDITIONS, 0, mid, ptr(xt, 0), ptr(p, 0), ptr(c1, 0), ptr(rng, 0))
        if _same(c0, c1):
            lo = mid
        else:
            hi = mid
    return hi


@njit(cache=True, error_model="numpy", inline="always")
def _propensities(f, t, x, p, rng, a, R):
    """Fill ``a[:R]``; return the total, or -1 when one is negative or NaN."""
    call(f, PROPENSITIES, 0, t, ptr(x, 0), ptr(p, 0), ptr(a, 0), ptr(rng, 0))
    a0 = 0.0
    for j in range(R):
        if not a[j] >= 0.0:
            return -1.0
        a0 += a[j]
    return a0


@njit(cache=True, error_model="numpy", inline="always")
def _choose(a, a0, rng):
    """Reaction ``j`` with probability ``a_j / a0``."""
    target = uniform01(rng) * a0
    acc = 0.0
    last = -1
    for j in range(a.shape[0]):
        if a[j] > 0.0:
            acc += a[j]
            last = j
            if acc > target:
                return j
    return last


@njit(cache=True, error_model="numpy")
def _select_tau(x, a, nu_ptr, nu_idx, nu_val, hor, hos, eps, mu, s2):
    """Cao-Gillespie-Petzold leap: bounds the expected relative change of every reactant."""
    mu[:] = 0.0
    s2[:] = 0.0
    for j in range(a.shape[0]):
        for k in range(nu_ptr[j], nu_ptr[j + 1]):
            i = nu_idx[k]
            mu[i] += nu_val[k] * a[j]
            s2[i] += nu_val[k] * nu_val[k] * a[j]
    tau = math.inf
    for i in range(x.shape[0]):
        if hor[i] == 0:
            continue
        xi = x[i]
        g = float(hor[i])
        if hor[i] == 2 and hos[i] == 2 and xi > 1.0:
            g = 2.0 + 1.0 / (xi - 1.0)
        elif hor[i] == 3 and hos[i] == 2 and xi > 1.0:
            g = 1.5 * (2.0 + 1.0 / (xi - 1.0))
        elif hor[i] == 3 and hos[i] == 3 and xi > 2.0:
            g = 3.0 + 1.0 / (xi - 1.0) + 2.0 / (xi - 2.0)
        bound = max(eps * xi / g, 1.0)
        if mu[i] != 0.0:
            tau = min(tau, bound / abs(mu[i]))
        if s2[i] > 0.0:
            tau = min(tau, bound * bound / s2[i])
    return tau


@njit(cache=True, error_model="numpy")
def _leap(x, a, dt, nu_ptr, nu_idx, nu_val, rng, dx):
    """Poisson firings over ``dt`` into ``dx``; False when a count would become negative."""
    dx[:] = 0.0
    for j in range(a.shape[0]):
        if a[j] > 0.0:
            k = poisson(rng, a[j] * dt)
            for q in range(nu_ptr[j], nu_ptr[j + 1]):
                dx[nu_idx[q]] += k * nu_val[q]
    for i in range(x.shape[0]):  # noqa: SIM110 - numba compiles loops, not generators
        if dx[i] != 0.0 and x[i] + dx[i] < 0.0:
            return False
    return True


@njit(cache=True, error_model="numpy")
def _has_nan(x):
    for i in range(x.shape[0]):  # noqa: SIM110 - numba compiles loops, not generators
        if math.isnan(x[i]):
            return True
    return False


@njit(cache=True, error_model="numpy")
def _events_at(f, t, x, p, rng, ne, ev, q, trig_prev, trig_now):
    """Evaluate triggers at ``t``, queue transitions, execute what is due."""
    persistent, initial_value, from_trigger, has_delay, has_priority, n_assign = ev
    pend_ev, pend_t, pend_on, pend_seq, pend_vals, cnt, dbuf, vbuf, prbuf = q
    call(f, TRIGGERS, 0, t, ptr(x, 0), ptr(p, 0), ptr(trig_now, 0), ptr(rng, 0))
    st = on_triggers(
        f, t, x, p, rng, ne, trig_prev, trig_now, persistent, from_trigger, has_delay,
        n_assign, pend_ev, pend_t, pend_on, pend_seq, pend_vals, cnt, dbuf, vbuf,
    )  # fmt: skip
    if st != OK:
        return st
    return process_due(
        f, t, x, p, rng, ne, trig_prev, trig_now, persistent, from_trigger, has_delay,
        has_priority, n_assign, pend_ev, pend_t, pend_on, pend_seq, pend_vals, cnt, dbuf, vbuf,
        prbuf,
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _queue(ne, n_assign):
    Q = max(16, 8 * ne)
    na = 1
    for e in range(ne):
        na = max(na, n_assign[e])
    return (
        np.zeros(Q, np.int64), np.zeros(Q), np.zeros(Q, np.int64), np.zeros(Q, np.int64),
        np.zeros((Q, na)), np.zeros(1, np.int64), np.zeros(max(ne, 1)), np.zeros(na),
        np.zeros(max(ne, 1)),
    )  # fmt: skip


@njit(cache=True, error_model="numpy", inline="always")
def _step_end(f, t, t_lim, fire, leap_ok, x, rate, dx, a, a0, p, rng, clocks):
    """Move to ``t_lim``: clocks advance, then the reaction fires or the leap applies."""
    if clocks:
        _advance(x, rate, t_lim - t, x)
    if leap_ok:
        for i in range(x.shape[0]):
            x[i] += dx[i]
    elif fire:
        j = _choose(a, a0, rng)
        if j >= 0:
            call(f, FIRE, j, t_lim, ptr(x, 0), ptr(p, 0), ptr(a, 0), ptr(rng, 0))


@njit(cache=True, error_model="numpy")
def run_one(f, R, ne, nc, t0, tout, p, rng, method, eps, max_steps, clocks, ev, stoich, Y):
    """One run; fills ``Y[T, m]`` and returns ``(status, time reached)``."""
    nu_ptr, nu_idx, nu_val, hor, hos = stoich
    n = hor.shape[0]
    x, xt, rate, dx = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    mu, s2, a = np.zeros(n), np.zeros(n), np.zeros(R)
    trig_prev, trig_now = np.zeros(max(ne, 1)), np.zeros(max(ne, 1))
    c0, c1 = np.zeros(max(nc, 1)), np.zeros(max(nc, 1))
    q = _queue(ne, ev[5])
    T = tout.shape[0]
    t_end = tout[T - 1]
    call(f, INIT, 0, t0, ptr(xt, 0), ptr(p, 0), ptr(x, 0), ptr(rng, 0))
    t = t0
    for e in range(ne):
        trig_prev[e] = 1.0 if ev[1][e] else 0.0
    st = _events_at(f, t, x, p, rng, ne, ev, q, trig_prev, trig_now) if ne > 0 else OK
    if _has_nan(x):
        st = NAN_STATE
    io = 0
    steps = 0
    while st == OK:
        if clocks:
            call(f, RATES, 0, t, ptr(x, 0), ptr(p, 0), ptr(rate, 0), ptr(rng, 0))
        a0 = _propensities(f, t, x, p, rng, a, R) if R > 0 else 0.0
        if a0 < 0.0:
            st = BAD_PROPENSITY
            break
        t_lim = min(next_pending(q[1], q[2]), t_end) if ne > 0 else t_end
        fire = False
        leap = False
        if a0 > 0.0:
            tau = -math.log(uniform01(rng)) / a0
            if method == TAU_LEAP:
                tl = _select_tau(x, a, nu_ptr, nu_idx, nu_val, hor, hos, eps, mu, s2)
                if tl * a0 >= 10.0:
                    leap = True
                    tau = tl
            if t + tau < t_lim:
                t_lim = t + tau
                fire = True
        if nc > 0 and t_lim > t:
            call(f, CONDITIONS, 0, t, ptr(x, 0), ptr(p, 0), ptr(c0, 0), ptr(rng, 0))
            tc = _crossing(f, t, t_lim, x, rate, xt, p, rng, c0, c1)
            if tc > t:
                t_lim = tc
                fire = False
        leap_ok = False
        if leap:
            for _ in range(64):
                if _leap(x, a, t_lim - t, nu_ptr, nu_idx, nu_val, rng, dx):
                    leap_ok = True
                    break
                t_lim = t + 0.5 * (t_lim - t)
        io = _record(f, t, x, rate, xt, p, rng, clocks, tout, io, t_lim, False, Y)
        _step_end(f, t, t_lim, fire and not leap, leap_ok, x, rate, dx, a, a0, p, rng, clocks)
        t = t_lim
        steps += 1
        if ne > 0:
            st = _events_at(f, t, x, p, rng, ne, ev, q, trig_prev, trig_now)
            if _has_nan(x):
                st = NAN_STATE
        if st == OK and t >= t_end:
            io = _record(f, t, x, rate, xt, p, rng, clocks, tout, io, t_end, True, Y)
            break
        if steps >= max_steps:
            st = MAX_STEPS
    for r in range(io, T):
        Y[r, :] = np.nan
    return st, t


@njit(cache=True, error_model="numpy")
def _member(f, R, ne, nc, t0, tout, PS, key, runs, i, method, eps, max_steps, clocks, ev, stoich,
            Y, status, t_reached):  # fmt: skip
    rng = np.zeros(4, np.uint64)
    seed_state(rng, key, i)
    st, tr = run_one(f, R, ne, nc, t0, tout, PS[i // runs], rng, method, eps, max_steps, clocks,
                     ev, stoich, Y[i])  # fmt: skip
    status[i] = st
    t_reached[i] = tr


@njit(cache=True, error_model="numpy")
def _batch_serial(f, R, ne, nc, t0, tout, PS, key, runs, method, eps, max_steps, clocks, ev,
                  stoich, Y, status, t_reached):  # fmt: skip
    for i in range(Y.shape[0]):
        _member(f, R, ne, nc, t0, tout, PS, key, runs, i, method, eps, max_steps, clocks, ev,
                stoich, Y, status, t_reached)  # fmt: skip


@njit(parallel=True, cache=True, error_model="numpy")
def _batch_parallel(f, R, ne, nc, t0, tout, PS, key, runs, method, eps, max_steps, clocks, ev,
                    stoich, Y, status, t_reached):  # fmt: skip
    for i in prange(Y.shape[0]):
        _member(f, R, ne, nc, t0, tout, PS, key, runs, i, method, eps, max_steps, clocks, ev,
                stoich, Y, status, t_reached)  # fmt: skip


def run_batch(cm, tout, PS, *, runs, key, t0, method, eps, max_steps, parallel):
    """Simulate ``runs`` runs of every parameter row of ``PS``.

    Returns ``(Y[N, T, m], status[N], t_reached[N])`` with ``N = len(PS) * runs``; member
    ``i`` is run ``i % runs`` of parameter row ``i // runs``.
    """
    tout = np.ascontiguousarray(tout, dtype=np.float64)
    PS = np.ascontiguousarray(PS, dtype=np.float64)
    N = PS.shape[0] * runs
    Y = np.empty((N, tout.shape[0], len(cm.outputs)))
    status = np.zeros(N, np.int64)
    t_reached = np.zeros(N)
    ev = (
        cm.ev_persistent, cm.ev_initial_value, cm.ev_from_trigger, cm.ev_has_delay,
        cm.ev_has_priority, cm.ev_n_assign,
    )  # fmt: skip
    if cm.constant_stoichiometry:
        nu = (cm.nu_ptr, cm.nu_idx, cm.nu_val)
    else:
        nu = (np.zeros(len(cm.reactions) + 1, np.int64), np.zeros(0, np.int64), np.zeros(0))
    stoich = (*nu, cm.hor, cm.hos)
    kernel = _batch_parallel if (parallel and N > 1) else _batch_serial
    kernel(
        int(cm.fn.address), len(cm.reactions), len(cm.events), cm.n_conditions, float(t0), tout,
        PS, np.uint64(key), int(runs), int(method), float(eps), int(max_steps), cm.has_clocks,
        ev, stoich, Y, status, t_reached,
    )  # fmt: skip
    return Y, status, t_reached
