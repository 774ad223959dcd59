"""The compiled driver: adaptive stepping, dense output, outputs and events, for any solver.

:func:`integrate` runs one member. It is written once for every method: it calls the generic
kernel functions of ``_base`` (:func:`~._base.step`, :func:`~._base.dense_eval`, ...) on the
solver records it is given, and numba compiles (and caches) one version per pair of record types.
With a :class:`~._records.SwitchPolicy` it starts with the first record's method and switches to
the second one when the first's stiffness estimate says so (the ``auto`` policy).

Forward sensitivities (``Problem.sens_idx``, k parameter indices) are integrated as the augmented
state ``z = [x, S[:,0], ..., S[:,k-1]]`` with ``dS/dt = J S + f_p[:, sens_idx]``; S is part of the
error norm. Events follow SBML Level 3 semantics (``_events.py``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from ._base import controller, dense_eval, dense_prepare, fsal, prepare, step, stiffness
from ._events import (
    any_due,
    execute_due,
    new_queue,
    next_stop,
    queue_triggers,
    triggers_differ,
)
from ._ffi import DOUT_DP, DOUT_DX, DX0DP, INIT, OUTPUTS, aug_rhs, call_model, ptr
from ._records import (
    STATUS_NONFINITE,
    STATUS_OK,
    STATUS_STEP_UNDERFLOW,
    STATUS_TOO_MANY_STEPS,
    Work,
)

__all__ = ["integrate"]

_TRIGGER_SAMPLES = 8  # interior trigger checks per accepted step (events only)
_EPS = float(np.finfo(np.float64).eps)


class Out(NamedTuple):
    """Where outputs go: raw pointers to Y (T x m), DY (T x m x k) and scratch buffers."""

    m: Any
    Yp: Any
    DYp: Any
    obuf: Any
    dodx: Any
    dodp: Any


@njit(cache=True, error_model="numpy", inline="always")
def _record(w, o, t, zz, io):
    """Outputs (and output sensitivities) at (t, zz) into row ``io`` of Y, DY."""
    f, p, n, k, P, m = w.f, w.p, w.n, w.k, w.P, o.m
    call_model(f, OUTPUTS, 0, t, zz, p, o.obuf)
    for i in range(m):
        o.Yp[io * m + i] = o.obuf[i]
    if k > 0:
        call_model(f, DOUT_DX, 0, t, zz, p, o.dodx)
        call_model(f, DOUT_DP, 0, t, zz, p, o.dodp)
        for i in range(m):
            for j in range(k):
                s = o.dodp[i * P + w.sens_idx[j]]
                off = n + j * n
                for ll in range(n):
                    s += o.dodx[i * n + ll] * zz[off + ll]
                o.DYp[(io * m + i) * k + j] = s


@njit(cache=True, error_model="numpy", inline="always")
def _all_finite(a, nn):
    for q in range(nn):  # noqa: SIM110 - explicit loop for numba
        if not math.isfinite(a[q]):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _initial_state(w, x0, t0):
    """z at t0: x0, NaN entries from the model's INIT mode; sensitivities from DX0DP."""
    n, k, P, z, zs, p = w.n, w.k, w.P, w.z, w.zs, w.p
    need_init = False
    for i in range(n):
        if math.isnan(x0[i]):
            need_init = True
    if need_init:
        call_model(w.f, INIT, 0, t0, ptr(w.xt, 0), ptr(p, 0), ptr(zs, 0))
    for i in range(n):
        z[i] = zs[i] if math.isnan(x0[i]) else x0[i]
    if k > 0:
        dx0 = np.zeros(max(n * P, 1))
        call_model(w.f, DX0DP, 0, t0, ptr(z, 0), ptr(p, 0), ptr(dx0, 0))
        for j in range(k):
            col = w.sens_idx[j]
            for i in range(n):
                z[n + j * n + i] = dx0[i * P + col] if math.isnan(x0[i]) else 0.0


@njit(cache=True, error_model="numpy")
def _first_step(w, t, hmax):
    """Hairer's starting step size (Solving ODEs I, II.4); ``w.F0`` holds f(t, z)."""
    z, F0, zs, rr, naug, rtol, atol = w.z, w.F0, w.zs, w.rr, w.naug, w.rtol, w.atol
    dnf = 0.0
    dny = 0.0
    for q in range(naug):
        sk = atol + rtol * abs(z[q])
        dnf += (F0[q] / sk) ** 2
        dny += (z[q] / sk) ** 2
    if dnf <= 1e-10 or dny <= 1e-10:
        h = 1e-6
    else:
        h = 0.01 * math.sqrt(dny / dnf)
    h = min(h, hmax)
    for q in range(naug):
        zs[q] = z[q] + h * F0[q]
    aug_rhs(w.f, t + h, zs, w.p, w.n, w.k, w.P, w.sens_idx, rr, 0, w.jb, w.fpb)
    der2 = 0.0
    for q in range(naug):
        sk = atol + rtol * abs(z[q])
        der2 += ((rr[q] - F0[q]) / sk) ** 2
    der2 = math.sqrt(der2) / h
    der12 = max(abs(der2), math.sqrt(dnf))
    if not math.isfinite(der12):
        h1 = h * 1e-3
    elif der12 <= 1e-15:
        h1 = max(1e-6, h * 1e-3)
    else:
        h1 = (0.01 / der12) ** 0.2
    return min(100.0 * h, h1, hmax)


@njit(cache=True, error_model="numpy", inline="always")
def _dense(s1, s2, use2, theta, w):
    """The dense output of the last step (by the solver that took it) at ``theta`` into w.zd."""
    if use2:
        dense_eval(s2, theta, w.naug, w.D, w.zd)
    else:
        dense_eval(s1, theta, w.naug, w.D, w.zd)


@njit(cache=True, error_model="numpy")
def _locate(s1, s2, use2, w, q, ne, t, h_try, t_new, t_out, io):
    """Trigger crossings within (t, t_new]: returns ``(changed, t_land)``.

    A trigger may turn true and false again inside one long step, so the dense output is sampled
    at interior points; a crossing is located by bisection to ~1e-12 relative and snapped to an
    output time inside the final bracket (outputs report the post-event state).
    """
    T = t_out.shape[0]
    changed = triggers_differ(w.f, t_new, w.znew, w.p, q, ne)
    hi0 = 1.0
    if not changed:
        for si in range(1, _TRIGGER_SAMPLES):
            th = si / _TRIGGER_SAMPLES
            _dense(s1, s2, use2, th, w)
            if triggers_differ(w.f, t + th * h_try, w.zd, w.p, q, ne):
                changed = True
                hi0 = th
                break
    if not changed:
        return False, t_new
    lo = 0.0
    hi = hi0
    tol = 1e-12 * max(abs(t_new), abs(h_try))
    while (hi - lo) * h_try > tol:
        mid = 0.5 * (lo + hi)
        _dense(s1, s2, use2, mid, w)
        if triggers_differ(w.f, t + mid * h_try, w.zd, w.p, q, ne):
            hi = mid
        else:
            lo = mid
    t_land = t + hi * h_try if hi < 1.0 else t_new
    jo = io
    while jo < T and t_out[jo] <= t + lo * h_try:
        jo += 1
    if jo < T and t_out[jo] < t_land:
        th = (t_out[jo] - t) / h_try
        _dense(s1, s2, use2, th, w)
        if triggers_differ(w.f, t_out[jo], w.zd, w.p, q, ne):
            t_land = t_out[jo]
    return True, t_land


@njit(cache=True, error_model="numpy")
def _start(w, o, ev, q, prob, x0):
    """Initial state, events at t0 and the outputs at t0; returns ``(status, io)``."""
    t = prob.t0
    ne = prob.ne
    _initial_state(w, x0, t)
    status = STATUS_OK
    if ne > 0:
        for e in range(ne):
            q.trig_prev[e] = 1.0 if ev.initial_value[e] else 0.0
        status = queue_triggers(w, ev, q, ne, t)
        if status == 0:
            status, nx = execute_due(w, ev, q, ne, prob.sens_idx, t)
    if status == 0 and not _all_finite(w.z, w.naug):
        status = STATUS_NONFINITE
    io = 0
    if status == 0:
        T = prob.t_out.shape[0]
        while io < T and prob.t_out[io] <= t:
            _record(w, o, t, w.z, io)
            io += 1
    return status, io


@njit(cache=True, error_model="numpy")
def _events_after_step(w, ev, q, prob, t, changed):
    """Queue new triggerings and execute due events at ``t``; returns ``(status, n_executed)``."""
    ne = prob.ne
    if changed:
        status = queue_triggers(w, ev, q, ne, t)
        if status != 0:
            return status, 0
    nx = 0
    status = STATUS_OK
    if any_due(q, t):
        status, nx = execute_due(w, ev, q, ne, prob.sens_idx, t)
    return status, nx


@njit(cache=True, error_model="numpy", inline="always")
def _control(s1, s2, use2):
    if use2:
        return controller(s2)
    return controller(s1)


@njit(cache=True, error_model="numpy", inline="always")
def _try_step(s1, s2, use2, w, t, h, jac_valid):
    """Prepare (once per step start) and take one step; returns the error norm."""
    if use2:
        if not jac_valid:
            prepare(s2, w, t)
        return step(s2, w, t, h)
    if not jac_valid:
        prepare(s1, w, t)
    return step(s1, w, t, h)


@njit(cache=True, error_model="numpy", inline="always")
def _accept(s1, s2, use2, w, h):
    """Dense output of the accepted step (by the method that took it)."""
    if use2:
        dense_prepare(s2, w, h)
    else:
        dense_prepare(s1, w, h)


@njit(cache=True, error_model="numpy", inline="always")
def _fsal(s1, s2, use2, w):
    if use2:
        return fsal(s2, w)
    return fsal(s1, w)


@njit(cache=True, error_model="numpy")
def _new_work(prob, p_arr, ws, piv_a):
    """The Work record of one member: raw pointers into the work arrays ``ws`` and ``piv_a``."""
    n, P = prob.n, prob.P
    k = prob.sens_idx.shape[0]
    naug = n * (1 + k)
    nn = max(n * n, 1)
    wsp = ptr(ws, 0)
    o = 22 * naug
    return Work(
        prob.f, ptr(p_arr, 0), n, k, P, naug, ptr(prob.sens_idx, 0), prob.rtol, prob.atol,
        wsp, ptr(wsp, naug), ptr(wsp, 2 * naug), ptr(wsp, 3 * naug), ptr(wsp, 4 * naug),
        ptr(wsp, 5 * naug), ptr(wsp, 6 * naug), ptr(wsp, 7 * naug), ptr(wsp, 8 * naug),
        ptr(wsp, 9 * naug), ptr(wsp, 17 * naug), ptr(wsp, o), ptr(wsp, o + max(n, 1)),
        ptr(wsp, o + 2 * max(n, 1)), ptr(wsp, o + 2 * max(n, 1) + nn),
        ptr(wsp, o + 2 * max(n, 1) + 2 * nn), ptr(wsp, o + 2 * max(n, 1) + 3 * nn),
        ptr(piv_a, 0),
    )  # fmt: skip


@njit(cache=True, error_model="numpy", inline="always")
def _clip(h, hmax, t, t_stop):
    """The step to try: at most ``hmax``, cut to land exactly on ``t_stop`` when near it."""
    if h > hmax:
        h = hmax
    h_try = h
    t_new = t + h_try
    if t_new >= t_stop - 16.0 * _EPS * max(abs(t_stop), 1.0) * 4.0 or h_try >= t_stop - t:
        h_try = t_stop - t
        t_new = t_stop
    return h, h_try, t_new


@njit(cache=True, error_model="numpy", inline="always")
def _next_h(errn, errold, h, h_try, last_rejected, expo1, beta, facmax):
    """The step after an accepted one (Hairer's PI controller, as in DOPRI5 and RODAS)."""
    fac = errn**expo1 / max(errold, 1e-4) ** beta / 0.9
    fac = max(1.0 / facmax, min(5.0, fac))
    hnew = h_try / fac
    if last_rejected:
        hnew = min(hnew, h_try)
    if h_try < h:  # truncated at a hard stop: keep the planned step
        hnew = max(hnew, h)
    return hnew


@njit(cache=True, error_model="numpy", inline="always")
def _stiff_test(s1, w, h_try, policy, iasti, nonsti):
    """Hairer's stiffness test on the first method's step: ``(switch now, iasti, nonsti)``."""
    if stiffness(s1, w, h_try) > policy.limit:
        nonsti = 0
        iasti += 1
        if iasti >= policy.stiff_steps:
            return True, iasti, nonsti
    else:
        nonsti += 1
        if nonsti >= 6:
            iasti = 0
    return False, iasti, nonsti


@njit(cache=True, error_model="numpy", inline="always")
def _dense_outputs(s1, s2, use2, w, o, t, h_try, t_land, t_out, io):
    """Outputs strictly before the landing time, from the dense output; returns the next row."""
    T = t_out.shape[0]
    while io < T and t_out[io] < t_land:
        _dense(s1, s2, use2, (t_out[io] - t) / h_try, w)
        _record(w, o, t_out[io], w.zd, io)
        io += 1
    return io


@njit(cache=True, error_model="numpy", inline="always")
def _move(s1, s2, use2, w, t, h_try, t_land, t_new):
    """Move the state to the landing time; returns whether ``w.F0`` holds f there (FSAL)."""
    if t_land < t_new:
        _dense(s1, s2, use2, (t_land - t) / h_try, w)
        for qq in range(w.naug):
            w.z[qq] = w.zd[qq]
        return False
    for qq in range(w.naug):
        w.z[qq] = w.znew[qq]
    return _fsal(s1, s2, use2, w)


@njit(cache=True, error_model="numpy")
def _nan_from(Y, DY, io):
    """Rows from ``io`` on are NaN (a failed member)."""
    for r in range(io, Y.shape[0]):
        for i in range(Y.shape[1]):
            Y[r, i] = np.nan
            for j in range(DY.shape[2]):
                DY[r, i, j] = np.nan


@njit(cache=True, error_model="numpy")
def _alloc(prob):
    """Work arrays of one member: (ws, piv, obuf, dodx, dodp)."""
    n, m, P = prob.n, prob.m, prob.P
    k = prob.sens_idx.shape[0]
    naug = n * (1 + k)
    nP = n * P if k > 0 else 1
    nn = max(n * n, 1)
    return (
        np.zeros(9 * naug + 8 * naug + 5 * naug + 2 * max(n, 1) + 3 * nn + max(nP, 1)),
        np.zeros(max(n, 1), np.int64),
        np.zeros(max(m, 1)),
        np.zeros(max(m * n, 1) if k > 0 else 1),
        np.zeros(max(m * P, 1) if k > 0 else 1),
    )


@njit(cache=True, error_model="numpy")
def integrate(s1, s2, policy, prob, ev, x0, p_arr, Y, DY):
    """Integrate one member; write outputs to Y[T, m], DY[T, m, k]. Returns (status, t_reached).

    ``s1``/``s2`` are solver records (equal unless ``policy.switching``); ``prob`` a
    :class:`~._records.Problem`, ``ev`` its :class:`~._records.EventFlags`.
    """
    n, m, P, ne = prob.n, prob.m, prob.P, prob.ne
    t_out = prob.t_out
    T = t_out.shape[0]
    k = prob.sens_idx.shape[0]
    naug = n * (1 + k)
    # work arrays; the hot code only sees raw pointers to them (see _ffi.ptr)
    ws, piv_a, obuf_a, dodx_a, dodp_a = _alloc(prob)
    w = _new_work(prob, p_arr, ws, piv_a)
    o = Out(m, ptr(Y, 0), ptr(DY, 0), ptr(obuf_a, 0), ptr(dodx_a, 0), ptr(dodp_a, 0))
    q = new_queue(ne, n, k, P, ev.n_assign)
    z = w.z

    t = prob.t0
    status, io = _start(w, o, ev, q, prob, x0)
    if T == 0:
        return 0, t
    t_final = t_out[T - 1]
    span = abs(t_final - prob.t0)
    hmax = span if span > 0.0 else 1.0
    if ne > 0 and T > 1:
        # with events, never step over more than one output interval: together with the
        # interior trigger samples this catches triggers that are true only briefly
        hmax = min(hmax, span / (T - 1))
    h = prob.h0
    use2 = False
    f0_valid = False
    jac_valid = False
    first = True
    nsteps = 0
    errold = 1e-4
    last_rejected = False
    iasti = 0
    nonsti = 0

    while status == 0 and io < T:
        if not f0_valid:
            aug_rhs(w.f, t, z, w.p, n, k, P, w.sens_idx, w.F0, 0, w.jb, w.fpb)
            if not _all_finite(w.F0, naug):
                status = STATUS_NONFINITE
                break
            f0_valid = True
        if first:
            first = False
            if not (h > 0.0):
                h = _first_step(w, t, hmax)
        # ---- next hard stop: last output time or a pending delayed execution
        t_stop = next_stop(q, t_final) if ne > 0 else t_final
        hmin = 16.0 * _EPS * max(abs(t), 1e-3 * span)
        h, h_try, t_new = _clip(h, hmax, t, t_stop)
        nsteps += 1
        if nsteps > prob.max_steps:
            status = STATUS_TOO_MANY_STEPS
            break
        if h_try < hmin:
            status = STATUS_STEP_UNDERFLOW
            break
        # ---- one step
        errn = _try_step(s1, s2, use2, w, t, h_try, jac_valid)
        jac_valid = True
        expo1, beta, facmax, rexp = _control(s1, s2, use2)
        if not math.isfinite(errn):
            h = h_try * 0.25
            last_rejected = True
            continue
        if errn > 1.0:
            fac = min(5.0, max(1.0, errn**rexp / 0.9))
            h = h_try / fac
            last_rejected = True
            continue
        # ---- accepted
        hnew = _next_h(errn, errold, h, h_try, last_rejected, expo1, beta, facmax)
        last_rejected = False
        errold = max(errn, 1e-4)
        _accept(s1, s2, use2, w, h_try)
        switch = False
        if policy.switching and not use2:
            switch, iasti, nonsti = _stiff_test(s1, w, h_try, policy, iasti, nonsti)
        # ---- trigger crossings within (t, t_new]
        changed = False
        t_land = t_new
        if ne > 0:
            changed, t_land = _locate(s1, s2, use2, w, q, ne, t, h_try, t_new, t_out, io)
        io = _dense_outputs(s1, s2, use2, w, o, t, h_try, t_land, t_out, io)
        f0_valid = _move(s1, s2, use2, w, t, h_try, t_land, t_new)
        t = t_land
        jac_valid = False
        h = hnew
        if switch:
            use2 = True
            errold = 1e-4
        # ---- events at t
        if ne > 0:
            status, nx = _events_after_step(w, ev, q, prob, t, changed)
            if status != 0:
                break
            if nx > 0:
                f0_valid = False
                if not _all_finite(z, naug):
                    status = STATUS_NONFINITE
                    break
        while io < T and t_out[io] <= t:
            _record(w, o, t, z, io)
            io += 1

    # keep the work arrays alive up to here: numba frees a local array after its last use, and
    # the loop above only used raw pointers into them
    keep = ws.size + piv_a.size + obuf_a.size + dodx_a.size + dodp_a.size
    if status != 0 and keep > 0:
        _nan_from(Y, DY, io)
    return status, t
