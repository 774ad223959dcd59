"""Compiled ODE solvers for immunetwin model functions (see docs/engine.md).

The solvers are compiled ONCE (numba, ``cache=True``) and take the model function -- a numba
``cfunc`` with signature :data:`MODEL_SIG` -- as a function pointer, so a new model never
recompiles them. The public functions accept the ``cfunc`` (or its ``.address``); the compiled
kernels receive the address as an int64 and call it through a raw C call (``_rodas.call_model``):
handing numba's first-class function objects (and numpy arrays) from one compiled function to
another costs atomic reference-count operations on every call, which made the steps 3-4x slower
and contended between threads. For the same reason the hot loops work on raw pointers into work
arrays (``_rodas.ptr``).

Methods (``method`` argument):

* ``METHOD_AUTO`` (0): starts with DOPRI5 and switches to Rodas5 for the rest of the run when
  Hairer's stiffness test (h*|lambda| > 3.25 on 15 accepted steps) fires.
* ``METHOD_STIFF`` (1): Rodas5(4) Rosenbrock method, analytic Jacobian (mode JAC) and f_t
  (mode DFDT), dense output of order 4 (``_rodas.py``).
* ``METHOD_NONSTIFF`` (2): Dormand-Prince 5(4) with FSAL and dense output (``_dopri.py``).

Forward sensitivities (``sens_idx``, k parameter indices) are integrated as the augmented state
``z = [x, S[:,0], ..., S[:,k-1]]`` with ``dS/dt = J S + f_p[:, sens_idx]``; S is part of the error
norm. Events follow SBML Level 3 semantics (``_events.py``).

Public entry points: :func:`solve_one`, :func:`solve_batch`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types

from ._dopri import dopri_dense_prepare, dopri_step, dopri_stiff_ratio
from ._events import on_triggers, process_due
from ._rodas import aug_rhs, call_model, ptr, rodas_dense_prepare, rodas_setup, rodas_step

__all__ = [
    "MODEL_SIG",
    "RHS",
    "JAC",
    "OUTPUTS",
    "TRIGGERS",
    "EVENT_VALUES",
    "EVENT_APPLY",
    "DFDP",
    "INIT",
    "DX0DP",
    "DELAYS",
    "PRIORITIES",
    "DFDT",
    "DOUT_DX",
    "DOUT_DP",
    "EVENT_DX",
    "EVENT_DP",
    "METHOD_AUTO",
    "METHOD_STIFF",
    "METHOD_NONSTIFF",
    "STATUS_OK",
    "STATUS_TOO_MANY_STEPS",
    "STATUS_STEP_UNDERFLOW",
    "STATUS_NONFINITE",
    "STATUS_SENS_STATE_EVENT",
    "STATUS_EVENT_CASCADE",
    "STATUS_MESSAGES",
    "solve_one",
    "solve_batch",
]

#: numba signature of a model function: void(mode, idx, t, x*, p*, out*)
MODEL_SIG = types.void(
    types.int64,
    types.int64,
    types.float64,
    types.CPointer(types.float64),
    types.CPointer(types.float64),
    types.CPointer(types.float64),
)

# model-function modes (docs/engine.md)
RHS = 0
JAC = 1
OUTPUTS = 2
TRIGGERS = 3
EVENT_VALUES = 4
EVENT_APPLY = 5
DFDP = 6
INIT = 7
DX0DP = 8
DELAYS = 9
PRIORITIES = 10
DFDT = 11
DOUT_DX = 12
DOUT_DP = 13
EVENT_DX = 14
EVENT_DP = 15

METHOD_AUTO = 0
METHOD_STIFF = 1
METHOD_NONSTIFF = 2

_TRIGGER_SAMPLES = 8  # interior trigger checks per accepted step (events only)

STATUS_OK = 0
STATUS_TOO_MANY_STEPS = 1
STATUS_STEP_UNDERFLOW = 2
STATUS_NONFINITE = 3
STATUS_SENS_STATE_EVENT = 4
STATUS_EVENT_CASCADE = 5

STATUS_MESSAGES = {
    STATUS_OK: "ok",
    STATUS_TOO_MANY_STEPS: "too many steps (max_steps reached)",
    STATUS_STEP_UNDERFLOW: "step size underflow",
    STATUS_NONFINITE: "NaN or Inf in the state or the right-hand side",
    STATUS_SENS_STATE_EVENT: "sensitivities not supported across state-triggered events",
    STATUS_EVENT_CASCADE: "event cascade limit exceeded",
}

_EPS = float(np.finfo(np.float64).eps)
_STIFF_LIMIT = 3.25  # Hairer's bound on h*|lambda| for the DOPRI5 stability region
_STIFF_COUNT = 15


@njit(cache=True, error_model="numpy")
def _err_norm(naug, e, eoff, z, znew, rtol, atol):
    s = 0.0
    for q in range(naug):
        sc = atol + rtol * max(abs(z[q]), abs(znew[q]))
        v = e[eoff + q] / sc
        s += v * v
    return math.sqrt(s / naug)


@njit(cache=True, error_model="numpy")
def _dense_eval(dmeth, theta, naug, D, out):
    th1 = 1.0 - theta
    if dmeth == METHOD_STIFF:
        for q in range(naug):
            out[q] = th1 * D[0 * naug + q] + theta * (
                D[1 * naug + q]
                + th1 * (D[2 * naug + q] + theta * (D[3 * naug + q] + theta * D[4 * naug + q]))
            )
    else:
        for q in range(naug):
            out[q] = D[0 * naug + q] + theta * (
                D[1 * naug + q]
                + th1 * (D[2 * naug + q] + theta * (D[3 * naug + q] + th1 * D[4 * naug + q]))
            )


@njit(cache=True, error_model="numpy")
def _record(f, t, zz, p, n, m, P, k, sens_idx, Yp, DYp, io, obuf, dodx, dodp):
    """Outputs (and output sensitivities) at (t, zz) into row ``io`` of Y (T x m), DY (T x m x k)."""
    call_model(f, OUTPUTS, 0, t, zz, p, obuf)
    for i in range(m):
        Yp[io * m + i] = obuf[i]
    if k > 0:
        call_model(f, DOUT_DX, 0, t, zz, p, dodx)
        call_model(f, DOUT_DP, 0, t, zz, p, dodp)
        for i in range(m):
            for j in range(k):
                s = dodp[i * P + sens_idx[j]]
                off = n + j * n
                for ll in range(n):
                    s += dodx[i * n + ll] * zz[off + ll]
                DYp[(io * m + i) * k + j] = s


@njit(cache=True, error_model="numpy")
def _all_finite(a, nn):
    for q in range(nn):  # noqa: SIM110 - explicit loop for numba
        if not math.isfinite(a[q]):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _integrate(
    f, n, m, P, ne, t0, t_out, x0, p_arr, method, rtol, atol, max_steps, h0, sens_idx_arr,
    ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay, ev_has_priority,
    ev_n_assign, ev_time_only, Y, DY,
):  # fmt: skip
    """Integrate one member; write outputs to Y[T, m], DY[T, m, k]. Returns (status, t_reached)."""
    T = t_out.shape[0]
    k = sens_idx_arr.shape[0]
    naug = n * (1 + k)
    # work arrays; the hot code only sees raw pointers to them (see _rodas.ptr)
    nn = max(n * n, 1)
    nP = n * P if k > 0 else 1
    ws = np.zeros(9 * naug + 8 * naug + 5 * naug + 2 * max(n, 1) + 3 * nn + max(nP, 1))
    wsp = ptr(ws, 0)
    z = wsp
    znew = ptr(wsp, naug)
    zs = ptr(wsp, 2 * naug)
    zd = ptr(wsp, 3 * naug)
    ysti = ptr(wsp, 4 * naug)
    rr = ptr(wsp, 5 * naug)
    err = ptr(wsp, 6 * naug)
    F0 = ptr(wsp, 7 * naug)
    dT = ptr(wsp, 8 * naug)
    K = ptr(wsp, 9 * naug)
    D = ptr(wsp, 17 * naug)
    o = 22 * naug
    xt = ptr(wsp, o)
    o += max(n, 1)
    stmp_p = ptr(wsp, o)
    o += max(n, 1)
    J = ptr(wsp, o)
    o += nn
    W = ptr(wsp, o)
    o += nn
    jb = ptr(wsp, o)
    o += nn
    fpb = ptr(wsp, o)
    piv_a = np.zeros(max(n, 1), np.int64)
    piv = ptr(piv_a, 0)
    obuf_a = np.zeros(max(m, 1))
    obuf = ptr(obuf_a, 0)
    dodx_a = np.zeros(max(m * n, 1) if k > 0 else 1)
    dodx = ptr(dodx_a, 0)
    dodp_a = np.zeros(max(m * P, 1) if k > 0 else 1)
    dodp = ptr(dodp_a, 0)
    p = ptr(p_arr, 0)
    sens_idx = ptr(sens_idx_arr, 0)
    Yp = ptr(Y, 0)
    DYp = ptr(DY, 0)
    ne1 = max(ne, 1)
    trig_prev = np.zeros(ne1)
    trig_now = np.zeros(ne1)
    dbuf = np.zeros(ne1)
    prbuf = np.zeros(ne1)
    kmax = 1
    for e in range(ne):
        kmax = max(kmax, ev_n_assign[e])
    vbuf = np.zeros(kmax)
    edx = np.zeros(max(n * n, 1) if k > 0 else 1)
    edp = np.zeros(max(nP, 1))
    Q = 8 * ne + 8
    pend_ev = np.zeros(Q, np.int64)
    pend_t = np.zeros(Q)
    pend_active = np.zeros(Q, np.int64)
    pend_seq = np.zeros(Q, np.int64)
    pend_vals = np.zeros((Q, kmax))
    cnt = np.zeros(1, np.int64)
    max_exec = max(1000, 100 * ne)

    status = 0
    t = t0
    io = 0
    # ---- initial state and sensitivities
    need_init = False
    for i in range(n):
        if math.isnan(x0[i]):
            need_init = True
    if need_init:
        call_model(f, INIT, 0, t0, ptr(xt, 0), ptr(p, 0), ptr(zs, 0))
    for i in range(n):
        z[i] = zs[i] if math.isnan(x0[i]) else x0[i]
    if k > 0:
        dx0 = np.zeros(max(n * P, 1))
        call_model(f, DX0DP, 0, t0, ptr(z, 0), ptr(p, 0), ptr(dx0, 0))
        for j in range(k):
            col = sens_idx[j]
            for i in range(n):
                z[n + j * n + i] = dx0[i * P + col] if math.isnan(x0[i]) else 0.0

    if T == 0:
        return 0, t
    t_final = t_out[T - 1]

    # ---- events at t0
    if ne > 0:
        for e in range(ne):
            trig_prev[e] = 1.0 if ev_initial_value[e] else 0.0
        call_model(f, TRIGGERS, 0, t, ptr(z, 0), ptr(p, 0), ptr(trig_now, 0))
        status = on_triggers(
            f, t, z, p, k, ne, trig_prev, trig_now,
            ev_persistent, ev_from_trigger, ev_has_delay, ev_time_only, ev_n_assign,
            pend_ev, pend_t, pend_active, pend_seq, pend_vals, cnt, dbuf, vbuf,
        )  # fmt: skip
        if status == 0:
            status, nx = process_due(
                f, t, z, p, n, k, P, ne, sens_idx_arr, trig_prev, trig_now,
                ev_persistent, ev_from_trigger, ev_has_delay, ev_has_priority, ev_time_only,
                ev_n_assign, pend_ev, pend_t, pend_active, pend_seq, pend_vals, cnt, dbuf, vbuf,
                prbuf, edx, edp, stmp_p, max_exec,
            )  # fmt: skip
    if status == 0 and not _all_finite(z, naug):
        status = 3
    if status == 0:
        while io < T and t_out[io] <= t:
            _record(f, t, z, p, n, m, P, k, sens_idx, Yp, DYp, io, obuf, dodx, dodp)
            io += 1

    meth = METHOD_NONSTIFF if method != METHOD_STIFF else METHOD_STIFF
    span = abs(t_final - t0)
    hmax = span if span > 0.0 else 1.0
    if ne > 0 and T > 1:
        # with events, never step over more than one output interval: together with the
        # interior trigger samples this catches triggers that are true only briefly
        hmax = min(hmax, span / (T - 1))
    h = h0
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
            aug_rhs(f, t, z, p, n, k, P, sens_idx, F0, 0, jb, fpb)
            if not _all_finite(F0, naug):
                status = 3
                break
            f0_valid = True
        if first:
            first = False
            if not (h > 0.0):
                # Hairer's starting step size (Solving ODEs I, II.4)
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
                aug_rhs(f, t + h, zs, p, n, k, P, sens_idx, rr, 0, jb, fpb)
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
                h = min(100.0 * h, h1, hmax)
        # ---- next hard stop: last output time or a pending delayed execution
        t_stop = t_final
        if ne > 0:
            for s_ in range(Q):
                if pend_active[s_] != 0 and pend_t[s_] < t_stop:
                    t_stop = pend_t[s_]
        hmin = 16.0 * _EPS * max(abs(t), 1e-3 * span)
        if h > hmax:
            h = hmax
        h_try = h
        t_new = t + h_try
        if t_new >= t_stop - 16.0 * _EPS * max(abs(t_stop), 1.0) * 4.0 or h_try >= t_stop - t:
            h_try = t_stop - t
            t_new = t_stop
        nsteps += 1
        if nsteps > max_steps:
            status = 1
            break
        if h_try < hmin:
            status = 2
            break
        # ---- one step
        if meth == METHOD_STIFF:
            if not jac_valid:
                rodas_setup(f, t, z, p, n, k, P, sens_idx, F0, J, dT, jb, fpb, xt)
                jac_valid = True
            ok = rodas_step(
                f, t, h_try, z, p, n, k, P, sens_idx, F0, J, dT, W, piv, K, zs, rr, jb, fpb,
                xt, znew,
            )  # fmt: skip
            if ok:
                errn = _err_norm(naug, K, 7 * naug, z, znew, rtol, atol)
            else:
                errn = np.inf
            expo1 = 0.7 / 5.0
            beta = 0.4 / 5.0
            facmax = 6.0
        else:
            dopri_step(f, t, h_try, z, p, n, k, P, sens_idx, F0, K, zs, ysti, jb, fpb, znew, err)
            errn = _err_norm(naug, err, 0, z, znew, rtol, atol)
            expo1 = 0.2 - 0.04 * 0.75
            beta = 0.04
            facmax = 10.0
        if not math.isfinite(errn):
            h = h_try * 0.25
            last_rejected = True
            continue
        if errn > 1.0:
            fac = min(5.0, max(1.0, errn ** (0.25 if meth == METHOD_STIFF else 0.2) / 0.9))
            h = h_try / fac
            last_rejected = True
            continue
        # ---- accepted
        fac = errn**expo1 / max(errold, 1e-4) ** beta / 0.9
        fac = max(1.0 / facmax, min(5.0, fac))
        hnew = h_try / fac
        if last_rejected:
            hnew = min(hnew, h_try)
        if h_try < h:  # truncated at a hard stop: keep the planned step
            hnew = max(hnew, h)
        last_rejected = False
        errold = max(errn, 1e-4)
        dmeth = meth
        if meth == METHOD_STIFF:
            rodas_dense_prepare(naug, K, z, znew, D)
        else:
            dopri_dense_prepare(naug, h_try, K, z, znew, D)
        switch = False
        if method == METHOD_AUTO and meth == METHOD_NONSTIFF:
            if dopri_stiff_ratio(n, naug, h_try, K, znew, ysti) > _STIFF_LIMIT:
                nonsti = 0
                iasti += 1
                if iasti >= _STIFF_COUNT:
                    switch = True
            else:
                nonsti += 1
                if nonsti >= 6:
                    iasti = 0
        # ---- trigger crossings within (t, t_new]
        changed = False
        t_land = t_new
        if ne > 0:
            call_model(f, TRIGGERS, 0, t_new, ptr(znew, 0), ptr(p, 0), ptr(trig_now, 0))
            for e in range(ne):
                if (trig_now[e] > 0.5) != (trig_prev[e] > 0.5):
                    changed = True
            hi0 = 1.0
            if not changed:
                # a trigger may turn true and false again inside one long step: sample the
                # dense output at interior points so such a window is not stepped over
                for si in range(1, _TRIGGER_SAMPLES):
                    th = si / _TRIGGER_SAMPLES
                    _dense_eval(dmeth, th, naug, D, zd)
                    call_model(
                        f, TRIGGERS, 0, t + th * h_try, ptr(zd, 0), ptr(p, 0), ptr(trig_now, 0)
                    )
                    for e in range(ne):
                        if (trig_now[e] > 0.5) != (trig_prev[e] > 0.5):
                            changed = True
                    if changed:
                        hi0 = th
                        break
            if changed:
                lo = 0.0
                hi = hi0
                tol = 1e-12 * max(abs(t_new), abs(h_try))
                while (hi - lo) * h_try > tol:
                    mid = 0.5 * (lo + hi)
                    _dense_eval(dmeth, mid, naug, D, zd)
                    call_model(
                        f, TRIGGERS, 0, t + mid * h_try, ptr(zd, 0), ptr(p, 0), ptr(trig_now, 0)
                    )
                    dif = False
                    for e in range(ne):
                        if (trig_now[e] > 0.5) != (trig_prev[e] > 0.5):
                            dif = True
                    if dif:
                        hi = mid
                    else:
                        lo = mid
                t_land = t + hi * h_try if hi < 1.0 else t_new
                # snap to an output time inside the final bracket (output reports post-event)
                jo = io
                while jo < T and t_out[jo] <= t + lo * h_try:
                    jo += 1
                if jo < T and t_out[jo] < t_land:
                    th = (t_out[jo] - t) / h_try
                    _dense_eval(dmeth, th, naug, D, zd)
                    call_model(f, TRIGGERS, 0, t_out[jo], ptr(zd, 0), ptr(p, 0), ptr(trig_now, 0))
                    dif = False
                    for e in range(ne):
                        if (trig_now[e] > 0.5) != (trig_prev[e] > 0.5):
                            dif = True
                    if dif:
                        t_land = t_out[jo]
        # ---- outputs strictly before the landing time, from the dense output
        while io < T and t_out[io] < t_land:
            th = (t_out[io] - t) / h_try
            _dense_eval(dmeth, th, naug, D, zd)
            _record(f, t_out[io], zd, p, n, m, P, k, sens_idx, Yp, DYp, io, obuf, dodx, dodp)
            io += 1
        if t_land < t_new:
            th = (t_land - t) / h_try
            _dense_eval(dmeth, th, naug, D, zd)
            for q in range(naug):
                z[q] = zd[q]
            f0_valid = False
        else:
            for q in range(naug):
                z[q] = znew[q]
            if meth == METHOD_NONSTIFF:
                for q in range(naug):
                    F0[q] = K[(6) * naug + q]
            else:
                f0_valid = False
        t = t_land
        jac_valid = False
        h = hnew
        if switch:
            meth = METHOD_STIFF
            errold = 1e-4
        # ---- events at t
        if ne > 0:
            if changed:
                call_model(f, TRIGGERS, 0, t, ptr(z, 0), ptr(p, 0), ptr(trig_now, 0))
                status = on_triggers(
                    f, t, z, p, k, ne, trig_prev, trig_now,
                    ev_persistent, ev_from_trigger, ev_has_delay, ev_time_only, ev_n_assign,
                    pend_ev, pend_t, pend_active, pend_seq, pend_vals, cnt, dbuf, vbuf,
                )  # fmt: skip
                if status != 0:
                    break
            due = False
            for s_ in range(Q):
                if pend_active[s_] != 0 and pend_t[s_] <= t:
                    due = True
            nx = 0
            if due:
                status, nx = process_due(
                    f, t, z, p, n, k, P, ne, sens_idx_arr, trig_prev, trig_now,
                    ev_persistent, ev_from_trigger, ev_has_delay, ev_has_priority, ev_time_only,
                    ev_n_assign, pend_ev, pend_t, pend_active, pend_seq, pend_vals, cnt, dbuf,
                    vbuf, prbuf, edx, edp, stmp_p, max_exec,
                )  # fmt: skip
            if status != 0:
                break
            if nx > 0:
                f0_valid = False
                if not _all_finite(z, naug):
                    status = 3
                    break
        while io < T and t_out[io] <= t:
            _record(f, t, z, p, n, m, P, k, sens_idx, Yp, DYp, io, obuf, dodx, dodp)
            io += 1

    # keep the work arrays alive up to here: numba frees a local array after its last use, and
    # the loop above only used raw pointers into them
    keep = ws.size + piv_a.size + obuf_a.size + dodx_a.size + dodp_a.size
    if status != 0 and keep > 0:
        for r in range(io, T):
            for i in range(m):
                Y[r, i] = np.nan
                for j in range(k):
                    DY[r, i, j] = np.nan
    return status, t


@njit(cache=True, error_model="numpy")
def _solve_one_kernel(
    f, n, m, P, ne, t0, t_out, x0, p, method, rtol, atol, max_steps, h0, sens_idx,
    ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay, ev_has_priority,
    ev_n_assign, ev_time_only,
):  # fmt: skip
    T = t_out.shape[0]
    k = sens_idx.shape[0]
    Y = np.empty((T, m))
    DY = np.empty((T, m, k))
    st, tr = _integrate(
        f, n, m, P, ne, t0, t_out, x0, p, method, rtol, atol, max_steps, h0, sens_idx,
        ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay, ev_has_priority,
        ev_n_assign, ev_time_only, Y, DY,
    )  # fmt: skip
    return Y, DY, st, tr


@njit(cache=True, error_model="numpy")
def _batch_serial(
    f, n, m, P, ne, t0, t_out, X0, PS, method, rtol, atol, max_steps, h0, sens_idx,
    ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay, ev_has_priority,
    ev_n_assign, ev_time_only, Y, DY, status, t_reached,
):  # fmt: skip
    for i in range(X0.shape[0]):
        st, tr = _integrate(
            f, n, m, P, ne, t0, t_out, X0[i], PS[i], method, rtol, atol, max_steps, h0,
            sens_idx, ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay,
            ev_has_priority, ev_n_assign, ev_time_only, Y[i], DY[i],
        )  # fmt: skip
        status[i] = st
        t_reached[i] = tr


@njit(parallel=True, cache=True, error_model="numpy")
def _batch_parallel(
    f, n, m, P, ne, t0, t_out, X0, PS, method, rtol, atol, max_steps, h0, sens_idx,
    ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay, ev_has_priority,
    ev_n_assign, ev_time_only, Y, DY, status, t_reached,
):  # fmt: skip
    for i in prange(X0.shape[0]):
        st, tr = _integrate(
            f, n, m, P, ne, t0, t_out, X0[i], PS[i], method, rtol, atol, max_steps, h0,
            sens_idx, ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay,
            ev_has_priority, ev_n_assign, ev_time_only, Y[i], DY[i],
        )  # fmt: skip
        status[i] = st
        t_reached[i] = tr


def _address(model):
    """Address of the model function: a numba ``cfunc`` (``.address``) or an int."""
    if isinstance(model, (int, np.integer)):
        return int(model)
    return int(model.address)


def _ev_arrays(ne, persistent, initial_value, from_trigger, has_delay, has_priority, n_assign,
               time_only):  # fmt: skip
    def b(a):
        if a is None:
            return np.zeros(ne, np.bool_)
        return np.ascontiguousarray(a, dtype=np.bool_).reshape(ne)

    na = (
        np.zeros(ne, np.int64)
        if n_assign is None
        else np.ascontiguousarray(n_assign, dtype=np.int64).reshape(ne)
    )
    return (
        b(persistent),
        b(initial_value),
        b(from_trigger),
        b(has_delay),
        b(has_priority),
        na,
        b(time_only),
    )


def solve_one(
    model, n, m, P, ne, t0, t_out, x0, p, method=METHOD_AUTO, rtol=1e-6, atol=1e-6,
    max_steps=100_000, h0=0.0, sens_idx=None,
    ev_persistent=None, ev_initial_value=None, ev_from_trigger=None, ev_has_delay=None,
    ev_has_priority=None, ev_n_assign=None, ev_time_only=None,
):  # fmt: skip
    """Integrate one parameter set.

    Returns ``(Y[T, m], DY[T, m, k], status, t_reached)``; on failure (``status != 0``) the rows
    from the failure on are NaN and ``t_reached`` is where integration stopped.
    ``x0`` entries that are NaN are taken from mode INIT.
    """
    t_out = np.ascontiguousarray(t_out, dtype=np.float64).reshape(-1)
    x0 = np.ascontiguousarray(x0, dtype=np.float64).reshape(n)
    p = np.ascontiguousarray(p, dtype=np.float64).reshape(P)
    sidx = (
        np.zeros(0, np.int64)
        if sens_idx is None
        else np.ascontiguousarray(sens_idx, dtype=np.int64).reshape(-1)
    )
    ev = _ev_arrays(ne, ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay,
                    ev_has_priority, ev_n_assign, ev_time_only)  # fmt: skip
    Y, DY, st, tr = _solve_one_kernel(
        _address(model), int(n), int(m), int(P), int(ne), float(t0), t_out, x0, p, int(method),
        float(rtol), float(atol), int(max_steps), float(h0), sidx, *ev,
    )  # fmt: skip
    return Y, DY, int(st), float(tr)


def solve_batch(
    model, n, m, P, ne, t0, t_out, X0, PS, method, rtol, atol, max_steps, h0, sens_idx,
    ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay, ev_has_priority,
    ev_n_assign, ev_time_only, parallel=True,
):  # fmt: skip
    """Integrate N members (rows of ``X0[N, n]`` and ``PS[N, P]``), in parallel with prange.

    Returns ``(Y[N, T, m], DY[N, T, m, k], status[N], t_reached[N])``.
    """
    t_out = np.ascontiguousarray(t_out, dtype=np.float64).reshape(-1)
    PS = np.ascontiguousarray(PS, dtype=np.float64)
    N = PS.shape[0]
    X0 = np.ascontiguousarray(np.broadcast_to(np.asarray(X0, dtype=np.float64), (N, n)))
    PS = PS.reshape(N, P)
    sidx = (
        np.zeros(0, np.int64)
        if sens_idx is None
        else np.ascontiguousarray(sens_idx, dtype=np.int64).reshape(-1)
    )
    ev = _ev_arrays(ne, ev_persistent, ev_initial_value, ev_from_trigger, ev_has_delay,
                    ev_has_priority, ev_n_assign, ev_time_only)  # fmt: skip
    T = t_out.shape[0]
    k = sidx.shape[0]
    Y = np.empty((N, T, m))
    DY = np.empty((N, T, m, k))
    status = np.zeros(N, np.int64)
    t_reached = np.zeros(N)
    kernel = _batch_parallel if (parallel and N > 1) else _batch_serial
    kernel(
        _address(model), int(n), int(m), int(P), int(ne), float(t0), t_out, X0, PS, int(method),
        float(rtol), float(atol), int(max_steps), float(h0), sidx, *ev, Y, DY, status, t_reached,
    )  # fmt: skip
    return Y, DY, status, t_reached
